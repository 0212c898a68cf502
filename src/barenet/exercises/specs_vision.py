"""Checks of the CNN exercises: conv2d, maxpool2d."""
from __future__ import annotations

import numpy as np

from .. import nn
from . import stubs_vision as stubs
from .spec import Config, Context, Mistake, Spec
from .specs_mlp import normal

F64 = np.float64


def _flipped(c: Context) -> dict[str, np.ndarray]:
    """What a true convolution (kernel rotated by 180 degrees) outputs."""
    conv = nn.Conv2d(**c.kwargs)
    state = {k: np.array(v) for k, v in c.params.items()}
    state["weight"] = state["weight"][:, :, ::-1, ::-1]
    conv.load_state_dict(state)
    return {"output": conv.forward(c.inputs[0])}


def _bias_mean(c: Context, axes: tuple[int, ...]) -> dict[str, np.ndarray]:
    g = c.g
    return {"dL/dbias": g.sum(axis=(0, 2, 3)) / np.prod([g.shape[a] for a in axes])}


CONV2D = Spec(
    "conv2d", "module", lambda **k: nn.Conv2d(**k),
    configs=(
        Config(dict(in_channels=2, out_channels=3, kernel_size=3, stride=1, padding=0,
                    bias=True, dtype=F64), normal(2, 2, 5, 5)),
        Config(dict(in_channels=2, out_channels=2, kernel_size=3, stride=2, padding=1,
                    bias=False, dtype=F64), normal(2, 2, 6, 6)),
        Config(dict(in_channels=3, out_channels=2, kernel_size=(2, 3), stride=(1, 2),
                    padding=(1, 0), bias=True, dtype=F64), normal(2, 3, 4, 6)),
    ),
    mistakes=(
        Mistake("convolution with the kernel flipped",
                "PyTorch's (and barenet's) Conv2d is a cross-correlation: multiply by "
                "W[o, c, u, v] at offset (u, v), without rotating the kernel.", _flipped),
        Mistake("bias gradient averaged over the batch",
                "dL/db sums g over the batch and every output position: g.sum(axis=(0, 2, 3)).",
                lambda c: _bias_mean(c, (0,))),
        Mistake("bias gradient averaged over the positions",
                "dL/db sums g over the batch and every output position: g.sum(axis=(0, 2, 3)), "
                "not a mean.", lambda c: _bias_mean(c, (0, 2, 3))),
    ),
    stub=stubs.CONV2D)


def distinct(*shape: int):
    """Inputs with no ties and gaps of 0.1 (a max is unambiguous for centred differences)."""
    def make(rng: np.random.Generator) -> tuple[np.ndarray]:
        size = int(np.prod(shape))
        return ((rng.permutation(size) - size / 2).reshape(shape) * 0.1,)
    return make


def _spread(c: Context, scale_by_window: bool) -> dict[str, np.ndarray]:
    """dL/dx of a max-pool whose backward gives every element of a window the window's
    gradient (or, ``scale_by_window`` False, the gradient divided by the window's size)."""
    k = c.kwargs
    pool = nn.AvgPool2d(k["kernel_size"], k.get("stride"), k.get("padding", 0))
    pool.forward(c.inputs[0])
    dx = pool.backward(c.g)
    kh, kw = pool.kernel_size
    return {"dL/dx": dx * (kh * kw) if scale_by_window else dx}


MAXPOOL2D = Spec(
    "maxpool2d", "module", lambda **k: nn.MaxPool2d(**k),
    configs=(
        Config(dict(kernel_size=2), distinct(2, 3, 4, 4)),
        Config(dict(kernel_size=3, stride=2, padding=1), distinct(2, 2, 5, 5)),
        Config(dict(kernel_size=2, stride=1), distinct(1, 2, 4, 5), note="overlapping windows"),
        Config(dict(kernel_size=(2, 3), stride=(2, 1)), distinct(2, 1, 5, 6)),
    ),
    mistakes=(
        Mistake("max-pool gradient sent to every element of the window",
                "only the window's maximum influenced the output: route g to that one element "
                "(remember its position in forward).", lambda c: _spread(c, True)),
        Mistake("max-pool gradient averaged over the window",
                "that is average pooling's backward; max pooling sends all of g to the "
                "maximum and nothing to the others.", lambda c: _spread(c, False)),
    ),
    stub=stubs.MAXPOOL2D)

SPECS = (CONV2D, MAXPOOL2D)
