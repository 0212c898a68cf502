"""Checks of the MLP exercises: linear, relu, sigmoid, tanh, cross_entropy, mse."""
from __future__ import annotations

import numpy as np

from .. import nn
from . import stubs_mlp as stubs
from .spec import Config, Context, Mistake, Spec

F64 = np.float64


def normal(*shape: int, scale: float = 1.0, away: float = 0.0):
    """An inputs maker: standard normal ``shape`` times ``scale``, at least ``away`` from 0."""
    def make(rng: np.random.Generator) -> tuple[np.ndarray]:
        x = rng.standard_normal(shape) * scale
        return (np.where(np.abs(x) < away, np.sign(x + 1e-12) * away, x),)
    return make


def _x(ctx: Context) -> np.ndarray:
    return ctx.inputs[0]


LINEAR = Spec(
    "linear", "module", lambda **k: nn.Linear(**k),
    configs=(
        Config(dict(in_features=5, out_features=3, bias=True, dtype=F64), normal(4, 5)),
        Config(dict(in_features=4, out_features=4, bias=False, dtype=F64), normal(3, 4)),
        Config(dict(in_features=4, out_features=4, bias=True, dtype=F64), normal(6, 4)),
        Config(dict(in_features=2, out_features=7, bias=True, dtype=F64), normal(5, 2)),
    ),
    mistakes=(
        Mistake("weight gradient transposed",
                "dL/dW must have W's shape (out, in): it is g^T x, not x^T g.",
                lambda c: {"dL/dweight": _x(c).T @ c.g}),
        Mistake("bias gradient averaged instead of summed over the batch",
                "each sample adds its own gradient: dL/db = g.sum(axis=0), not g.mean(axis=0).",
                lambda c: {"dL/dbias": c.g.mean(axis=0)}),
        Mistake("input gradient through W transposed",
                "dL/dx = g W (N, out) @ (out, in); g W^T only has the right shape when W is "
                "square.", lambda c: {"dL/dx": c.g @ c.params["weight"].T}),
    ),
    stub=stubs.LINEAR)


def _activation(name: str, cls: type, stub: str, mistakes: tuple[Mistake, ...],
                scale: float = 1.0, away: float = 0.0) -> Spec:
    return Spec(name, "module", lambda: cls(), configs=(
        Config({}, normal(4, 5, scale=scale, away=away)),
        Config({}, normal(2, 3, 4, scale=3 * scale, away=away)),
    ), mistakes=mistakes, stub=stub)


RELU = _activation("relu", nn.ReLU, stubs.RELU, (
    Mistake("ReLU mask taken from the upstream gradient",
            "the gradient passes where the INPUT was positive: g * (x > 0), not g * (g > 0).",
            lambda c: {"dL/dx": c.g * (c.g > 0)}),
    Mistake("gradient not masked",
            "where x < 0 the output is constant, so dL/dx is 0 there: multiply g by (x > 0).",
            lambda c: {"dL/dx": c.g}),
    Mistake("mask instead of masked gradient",
            "backward returns g * (x > 0), not the mask (x > 0) alone.",
            lambda c: {"dL/dx": (_x(c) > 0).astype(F64)}),
), away=0.05)

SIGMOID = _activation("sigmoid", nn.Sigmoid, stubs.SIGMOID, (
    Mistake("sigmoid derivative taken at the input",
            "dy/dx = y (1 - y) with y = sigmoid(x), the OUTPUT; x (1 - x) is wrong.",
            lambda c: {"dL/dx": c.g * _x(c) * (1 - _x(c))}),
    Mistake("sigmoid derivative missing (1 - y)",
            "dy/dx = y (1 - y), not y.", lambda c: {"dL/dx": c.g * c.y}),
), scale=2.0)

TANH = _activation("tanh", nn.Tanh, stubs.TANH, (
    Mistake("tanh derivative taken at the input",
            "dy/dx = 1 - y^2 with y = tanh(x), the OUTPUT; 1 - x^2 is wrong.",
            lambda c: {"dL/dx": c.g * (1 - _x(c) ** 2)}),
    Mistake("tanh derivative not squared", "dy/dx = 1 - y^2, not 1 - y.",
            lambda c: {"dL/dx": c.g * (1 - c.y)}),
))


def logits(n: int, c: int, scale: float = 1.0):
    """Logits (n, c) times ``scale`` and labels (n,) in [0, c)."""
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.standard_normal((n, c)) * scale, rng.integers(0, c, n)
    return make


def _naive_ce(c: Context) -> dict[str, np.ndarray]:
    x, t = c.inputs
    with np.errstate(all="ignore"):
        e = np.exp(x)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(len(t)), t])
        onehot = np.eye(x.shape[1])[t]
        scale = 1 / len(t) if c.kwargs.get("reduction", "mean") == "mean" else 1.0
        total = loss.mean() if scale != 1.0 else loss.sum()
    return {"loss": total, "dL/dinput": (p - onehot) * scale}


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


CROSS_ENTROPY = Spec(
    "cross_entropy", "loss", lambda **k: nn.CrossEntropyLoss(**k),
    configs=(
        Config(dict(reduction="mean"), logits(5, 4)),
        Config(dict(reduction="sum"), logits(3, 6)),
        Config(dict(reduction="mean"), logits(4, 5, scale=1000.0), note="logits of size 1000"),
        Config(dict(reduction="mean", label_smoothing=0.1), logits(6, 3)),
    ),
    mistakes=(
        Mistake("softmax without subtracting the max",
                "exp(1000) overflows to inf; subtract each row's maximum before exp (the "
                "softmax does not change).", _naive_ce),
        Mistake("gradient not divided by the batch size",
                'with reduction="mean" the loss is averaged over N, so dL/dx is '
                "(softmax - onehot) / N.",
                lambda c: {"dL/dinput": c.grads["dL/dinput"] * len(c.inputs[1])}),
        Mistake("one-hot target not subtracted",
                "dL/dx = softmax(x) - onehot(y) (over N for the mean): subtract 1 at each "
                "sample's label.",
                lambda c: {"dL/dinput": _softmax(_x(c)) / (
                    len(c.inputs[1]) if c.kwargs["reduction"] == "mean" else 1)}),
    ),
    stub=stubs.CROSS_ENTROPY)


def pairs(*shape: int):
    """A prediction and a target, both normal of ``shape``."""
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.standard_normal(shape), rng.standard_normal(shape)
    return make


def _diff(c: Context) -> np.ndarray:
    return c.inputs[0] - c.inputs[1]


MSE = Spec(
    "mse", "loss", lambda **k: nn.MSELoss(**k),
    configs=(
        Config(dict(reduction="mean"), pairs(4, 3)),
        Config(dict(reduction="sum"), pairs(5, 2)),
        Config(dict(reduction="mean"), pairs(2, 3, 2)),
    ),
    mistakes=(
        Mistake("factor 2 missing from the gradient",
                "d/dx (x - t)^2 = 2 (x - t): keep the 2.",
                lambda c: {"dL/dinput": c.grads["dL/dinput"] / 2}),
        Mistake("mean over the batch instead of over every element",
                'reduction="mean" divides by x.size (all elements), not by N = x.shape[0].',
                lambda c: {"dL/dinput": 2 * _diff(c) / _diff(c).shape[0],
                           "loss": float(np.sum(_diff(c) ** 2) / _diff(c).shape[0])}),
        Mistake("gradient sign reversed",
                "dL/dx = 2 (x - t) / n: prediction minus target.",
                lambda c: {"dL/dinput": -c.grads["dL/dinput"]}),
    ),
    stub=stubs.MSE)

SPECS = (LINEAR, RELU, SIGMOID, TANH, CROSS_ENTROPY, MSE)
