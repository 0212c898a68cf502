"""Shape-only layers: Flatten and Identity. Neither copies data."""
from __future__ import annotations

import math

import numpy as np

from . import kernels
from .kernels.batch_last import match_layout
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, NoParameters, SameShape, ShapeMismatch, values
from .module import Module
from .registry import register_layer


@register_layer
class Flatten(NoParameters, Module):
    """Merge dimensions ``start_dim..end_dim`` into one, e.g. (N, C, H, W) -> (N, C*H*W).

    Backward reshapes the gradient back to the input's shape. Returns a view when it can.
    (With the fast kernels on, the gradient also takes the input's memory layout: see
    ``kernels.batch_last.match_layout``.)
    """

    LAYOUT_AWARE = True          # keeps the layout (match_layout)

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({}, (2, 3, 4))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """One-channel images."""
        return (1, *image_size)

    ARGS = {"start_dim": Arg("dim", 1), "end_dim": Arg("dim", -1)}
    ROLE = "passthrough"

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        full = (1, *shape)
        nd = len(full)
        given = [c["start_dim"], c["end_dim"]]
        s, e = [d + nd if d < 0 else d for d in given]
        if not (0 <= s < nd and 0 <= e < nd) or s > e:
            raise ShapeMismatch(f"with dimensions {given[0]} to {given[1]}")
        if s == 0:
            raise ShapeMismatch("start_dim >= 1 (the batch dimension stays first)")
        return (full[:s] + (math.prod(full[s:e + 1]),) + full[e + 1:])[1:]

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Its output is a view of its input (a C-contiguous one, as layers give): whoever
        keeps the output keeps the input's memory, counted there, not twice. Backward only
        reshapes the upstream gradient."""
        return LayerMemory(moment=FLOAT * values(out))

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for name, v in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"Flatten: {name} must be an int, got {v!r}")
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)
        self._in_shape: tuple[int, ...] | None = None
        self._x: np.ndarray | None = None
        self._out_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        nd = max(x.ndim, 1)
        start = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        end = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if not (0 <= start < nd and 0 <= end < nd and start <= end):
            raise ValueError(f"{self!r}: cannot flatten dimensions {self.start_dim}..{self.end_dim}"
                             f" of input of shape {x.shape}; expected at least "
                             f"{max(self.start_dim, self.end_dim) + 1} dimensions")
        self._in_shape = x.shape
        self._x = x
        out = x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])
        self._out_shape = out.shape
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._in_shape)
        self._check_grad(grad_out, self._out_shape)
        grad = grad_out.reshape(self._in_shape)
        return match_layout(grad, self._x) if kernels.enabled() else grad

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


@register_layer
class Identity(SameShape, Module):
    """Returns its input unchanged; backward returns the gradient unchanged. Any shape."""

    LAYOUT_AWARE = True          # passes it on

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({}, (3, 5))

    ARGS = {}
    ROLE = "passthrough"

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        return LayerMemory(moment=FLOAT * values(out))

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        self._shape = x.shape
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._shape)
        self._check_grad(grad_out, self._shape)
        return grad_out
