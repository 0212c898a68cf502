"""Checks of the layer exercises of training craft: dropout, batchnorm1d."""
from __future__ import annotations

import numpy as np

from .. import nn
from . import stubs_training as stubs
from .spec import Config, Context, Mistake, Spec
from .specs_mlp import normal

F64 = np.float64


def _keep(c: Context) -> np.ndarray:
    """The reference's survivors (x is never exactly 0)."""
    return (np.asarray(c.y) != 0).astype(F64)


def _eval_mask(c: Context) -> dict[str, np.ndarray]:
    """What dropping in eval mode outputs, with the mask from the seeded rng."""
    p = c.kwargs.get("p", 0.5)
    x = c.inputs[0]
    keep = np.random.default_rng(c.seed).random(x.shape) >= p
    return {"output": x * keep / (1 - p)}


def _dropout_spec() -> Spec:
    configs = (
        Config(dict(p=0.5), normal(4, 6), seed=11),
        Config(dict(p=0.2), normal(2, 3, 4), seed=12),
        Config(dict(p=0.5), normal(3, 5), train=False, seed=13),
        Config(dict(p=0.0), normal(3, 4), seed=14),
    )
    return Spec(
        "dropout", "module", lambda **k: nn.Dropout(**k), configs=configs,
        mistakes=(
            Mistake("survivors not scaled by 1/(1-p)",
                    "inverted dropout divides the survivors by (1 - p) so the expected output "
                    "equals the input, and eval mode needs no change.",
                    lambda c: {"output": c.inputs[0] * _keep(c), "dL/dx": c.g * _keep(c)}),
            Mistake("survivors multiplied by (1-p) instead of divided",
                    "scale the survivors by 1 / (1 - p), not (1 - p).",
                    lambda c: {"output": c.inputs[0] * _keep(c) * (1 - c.kwargs["p"]),
                               "dL/dx": c.g * _keep(c) * (1 - c.kwargs["p"])}),
            Mistake("dropout applied in eval mode",
                    "in eval mode (self.training False) dropout is the identity: y = x.",
                    _eval_mask),
            Mistake("mask not applied in backward",
                    "an element dropped in forward did not influence the loss: dL/dx = g * keep "
                    "/ (1 - p), with forward's mask.", lambda c: {"dL/dx": c.g}),
        ),
        stub=stubs.DROPOUT)


DROPOUT = _dropout_spec()


def _batchnorm(**kwargs: object) -> nn.BatchNorm1d:
    """barenet's BatchNorm1d with non-trivial weight, bias and running statistics."""
    layer = nn.BatchNorm1d(**kwargs)
    rng = np.random.default_rng(7)
    c = layer.num_features
    if layer.affine:
        layer.weight.data = 1 + 0.5 * rng.standard_normal(c)
        layer.bias.data = rng.standard_normal(c)
    layer.running_mean = rng.standard_normal(c)
    layer.running_var = rng.uniform(0.5, 2.0, c)
    return layer


def _stats(c: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = c.inputs[0]
    mu, var = x.mean(axis=0), x.var(axis=0)
    return mu, var, 1 / np.sqrt(var + c.kwargs.get("eps", 1e-5))


def _weight(c: Context) -> np.ndarray | float:
    return c.params.get("weight", 1.0)


def _no_stats_terms(c: Context) -> dict[str, np.ndarray]:
    return {"dL/dx": c.g * _weight(c) * _stats(c)[2]}


def _no_var_term(c: Context) -> dict[str, np.ndarray]:
    return {"dL/dx": (c.g - c.g.mean(axis=0)) * _weight(c) * _stats(c)[2]}


def _running(c: Context, biased: bool, swapped: bool) -> dict[str, np.ndarray]:
    mu, var, _ = _stats(c)
    n = c.inputs[0].shape[0]
    m = c.kwargs.get("momentum", 0.1)
    m = 1 - m if swapped else m
    var = var if biased else var * n / (n - 1)
    return {"running_mean": (1 - m) * c.buffers_before["running_mean"] + m * mu,
            "running_var": (1 - m) * c.buffers_before["running_var"] + m * var}


def _batch_in_eval(c: Context) -> dict[str, np.ndarray]:
    mu, _, inv = _stats(c)
    return {"output": (c.inputs[0] - mu) * inv * _weight(c) + c.params.get("bias", 0.0)}


BATCHNORM1D = Spec(
    "batchnorm1d", "module", _batchnorm,
    configs=(
        Config(dict(num_features=3, dtype=F64), normal(6, 3, scale=2.0)),
        Config(dict(num_features=4, affine=False, dtype=F64), normal(5, 4)),
        Config(dict(num_features=2, momentum=0.3, eps=1e-3, dtype=F64), normal(4, 2)),
        Config(dict(num_features=3, dtype=F64), normal(5, 3), train=False),
    ),
    mistakes=(
        Mistake("BatchNorm backward missing the terms through the mean and variance",
                "in training every x[n] also moves the batch mean and variance: dL/dx = w / "
                "sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat)).", _no_stats_terms),
        Mistake("BatchNorm backward missing the term through the variance",
                "subtracting mean(g) handles the mean; the variance adds "
                "- xhat * mean(g * xhat).", _no_var_term),
        Mistake("running variance from the biased batch variance",
                "the running estimate uses the unbiased variance var * N / (N - 1) "
                "(normalising the batch itself uses the biased one).",
                lambda c: _running(c, True, False)),
        Mistake("momentum applied the wrong way round",
                "running = (1 - momentum) * running + momentum * batch statistic.",
                lambda c: _running(c, False, True)),
        Mistake("batch statistics used in eval mode",
                "in eval mode normalise with running_mean and running_var, not the batch's.",
                _batch_in_eval),
    ),
    stub=stubs.BATCHNORM1D)

SPECS = (DROPOUT, BATCHNORM1D)
