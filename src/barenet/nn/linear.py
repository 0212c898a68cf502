"""Linear (fully connected) layer: y = x W^T + b."""
from __future__ import annotations

import math

import numpy as np

from . import init
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, ShapeMismatch, values
from .module import Module, Parameter
from .registry import register_layer


@register_layer
class Linear(Module):
    """Affine map ``y = x @ W.T + b``.

    Shapes: x (N, in_features) -> y (N, out_features); ``weight`` (out, in), ``bias`` (out,),
    exactly PyTorch's layout. Default init is PyTorch's: W, b ~ U(-1/sqrt(in), 1/sqrt(in)).

    Backward: dL/dW = g^T x, dL/db = sum_n g, dL/dx = g W, for upstream g = dL/dy (N, out).
    """

    LAYOUT_AWARE = True          # matrix products; the bias gradient sums over the batch

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"in_features": 6, "out_features": 4}, (6,))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """A flat vector of in_features."""
        return (c["in_features"],)

    ARGS = {"in_features": Arg("size"), "out_features": Arg("size"), "bias": Arg("bool", True)}

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        return c["out_features"] * (c["in_features"] + c["bias"]), 0

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(shape) != (c["in_features"],):
            raise ShapeMismatch(f"(N, {c['in_features']})")
        return (c["out_features"],)

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps x by reference; makes y, and dL/dx beside it unless it is the first layer."""
        x, y = FLOAT * values(shape), FLOAT * values(out)
        return LayerMemory(moment=y + (0 if first else x), keeps_input=True)

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: init.RNGLike = None, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: features must be positive, got ({in_features}, {out_features})")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        self.reset_parameters(rng)
        self._x: np.ndarray | None = None

    def reset_parameters(self, rng: init.RNGLike = None) -> None:
        """Redraw weight and bias from U(-1/sqrt(in), 1/sqrt(in)), keeping their dtype."""
        gen = init.as_generator(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        for p in (self.weight, self.bias):
            if p is not None:
                p.data = init.uniform(p.shape, bound, gen, p.dtype)
                p.grad = np.zeros_like(p.data)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, in_features) -> (N, out_features); caches x (by reference) for backward."""
        self._check_input(x, (2,), f"(N, {self.in_features})", size=(1, self.in_features))
        self._x = x
        y = x @ self.weight.data.T                     # (N, out)
        if self.bias is not None:
            y += self.bias.data                        # (out,) broadcast over the batch
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, out_features) -> dL/dx (N, in_features); accumulates weight/bias grads."""
        self.backward_params_only(grad_out)
        return grad_out @ self.weight.data             # dL/dx = g W  (N, in)

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """Weight and bias gradients only: skips dL/dx = g W (a third of the layer's FLOPs)."""
        self._require_cache(self._x)
        self._check_grad(grad_out, (self._x.shape[0], self.out_features))
        self.weight.accumulate_grad(grad_out.T, self._x)   # dL/dW = g^T x  (out, in)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_out.sum(axis=0))  # dL/db = sum_n g  (out,)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
