"""Glue between a sequence of feature vectors and a classifier head: one step, or the mean."""
from __future__ import annotations

import numpy as np

from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, NoParameters, ShapeMismatch, values
from .module import Module
from .registry import register_layer


@register_layer
class SelectStep(NoParameters, Module):
    """One position of a sequence: x (N, T, F) -> x[:, index] (N, F).

    ``index=-1`` (the default) takes the last time step, what a recurrent classifier reads;
    ``index=0`` takes the first token, e.g. a vision transformer's class token.
    Backward: the gradient goes to that step; every other step gets 0.
    """

    LAYOUT_AWARE = True          # it only picks a step

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"index": -1}, (5, 3))

    ARGS = {"index": Arg("index", -1)}
    ROLE = "selection"

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 2:
            raise ShapeMismatch("(N, T, F)")
        if not -shape[0] <= c["index"] < shape[0]:
            steps = c["index"] if c["index"] >= 0 else -c["index"] - 1
            raise ShapeMismatch(f"(N, T, F) with T > {steps}")
        return (shape[1],)

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        return LayerMemory(cache=FLOAT * values(shape),
                           moment=FLOAT * (values(shape) + values(out)))

    def __init__(self, index: int = -1) -> None:
        super().__init__()
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"SelectStep: index must be an int, got {index!r}")
        self.index = int(index)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, (3,), "(N, T, F)")
        if not -x.shape[1] <= self.index < x.shape[1]:
            raise ValueError(f"{self!r}: index {self.index} is out of range for {x.shape[1]} "
                             f"steps")
        self._x = x
        return x[:, self.index]                               # (N, F), a view

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._x)
        n, _, f = self._x.shape
        self._check_grad(grad_out, (n, f))
        dx = np.zeros(self._x.shape, dtype=np.result_type(grad_out, self._x))
        dx[:, self.index] = grad_out
        return dx

    def extra_repr(self) -> str:
        return f"index={self.index}"


@register_layer
class MeanOverTime(NoParameters, Module):
    """The mean over the time axis: x (N, T, F) -> (N, F). Backward: g / T to every step."""

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({}, (5, 3))

    ARGS = {}

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 2:
            raise ShapeMismatch("(N, T, F)")
        return (shape[1],)

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps only the input's shape; backward spreads the gradient over every step."""
        return LayerMemory(moment=FLOAT * (values(shape) + values(out)))

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, (3,), "(N, T, F)")
        self._shape = x.shape
        return x.mean(axis=1)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._shape)
        n, t, f = self._shape
        self._check_grad(grad_out, (n, f))
        return np.broadcast_to(grad_out[:, None, :] / t, self._shape).copy()
