"""Layer normalisation: each sample (each token) normalised over its own last dimensions.

For x whose last dimensions have the ``normalized_shape`` (m values per row):
    mu = mean(x), var = mean((x - mu)^2)   (biased, per row)
    xhat = (x - mu) / sqrt(var + eps),  y = xhat * weight + bias.
Unlike batch norm there are no batch statistics, no running averages and no train/eval
difference: every row is normalised by its own numbers.

Backward, per row, with g = dL/dy and gx = g * weight (docs/layernorm.md derives it):
    dL/dweight = sum over rows of g * xhat,  dL/dbias = sum over rows of g,
    dL/dx = (gx - mean(gx) - xhat * mean(gx * xhat)) / sqrt(var + eps).
"""
from __future__ import annotations

import math

import numpy as np

from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, ShapeMismatch, values
from .module import Module, Parameter
from .registry import register_layer


@register_layer
class LayerNorm(Module):
    """Normalise over the last ``len(normalized_shape)`` dimensions, PyTorch's ``LayerNorm``.

    Shapes: x (N, *, *normalized_shape) -> same; ``weight`` and ``bias`` have the
    ``normalized_shape`` (ones and zeros at first). ``elementwise_affine=False`` has neither;
    ``bias=False`` keeps the weight only.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"normalized_shape": [5]}, (3, 5))

    ARGS = {"normalized_shape": Arg("sizes"), "eps": Arg("eps", 1e-5),
            "elementwise_affine": Arg("bool", True), "bias": Arg("bool", True)}
    ROLE = "norm"

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        affine = c["elementwise_affine"]
        return math.prod(c["normalized_shape"]) * (affine + (affine and c["bias"])), 0

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        ns = tuple(c["normalized_shape"])
        if len(shape) < len(ns) or tuple(shape[len(shape) - len(ns):]) != ns:
            raise ShapeMismatch(f"(N, *, {', '.join(map(str, ns))})")
        return tuple(shape)

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps the normalised input; backward holds the upstream gradient, dL/dxhat, the
        products with xhat and the result: four input-sized arrays beside the cache."""
        return LayerMemory(cache=FLOAT * values(shape),
                           moment=2 * FLOAT * (values(shape) + values(out)))

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
            else tuple(normalized_shape)
        if not shape or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                and s > 0 for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple of "
                             f"them, got {normalized_shape!r}")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps!r}")
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        affine = self.elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) \
            if affine and bias else None
        self._cache: tuple[np.ndarray, np.ndarray, tuple[int, ...]] | None = None

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        for p, value in ((self.weight, 1), (self.bias, 0)):
            if p is not None:
                p.data = np.full_like(p.data, value)
                p.grad = np.zeros_like(p.data)

    def forward(self, x: np.ndarray) -> np.ndarray:
        k = len(self.normalized_shape)
        self._check_input(x, None, f"(N, *, {', '.join(map(str, self.normalized_shape))})")
        if x.ndim <= k or x.shape[-k:] != self.normalized_shape:
            raise ValueError(f"{self!r}: expected input of shape (N, *, "
                             f"{', '.join(map(str, self.normalized_shape))}), got {x.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))             # the normalised dimensions
        mu = x.mean(axis=axes, keepdims=True)               # (N, *, 1, ..., 1)
        xc = x - mu
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = xc * inv_std                                 # (N, *, *normalized_shape)
        self._cache = (xhat, inv_std, axes)
        if self.weight is None:
            return xhat
        y = xhat * self.weight.data
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        xhat, inv_std, axes = self._cache
        self._check_grad(grad_out, xhat.shape)
        rows = tuple(range(xhat.ndim - len(axes)))          # every dimension but the normalised
        if self.weight is not None:
            self.weight.accumulate_grad(np.sum(grad_out * xhat, axis=rows))  # sum g * xhat
            if self.bias is not None:
                self.bias.accumulate_grad(grad_out.sum(axis=rows))          # sum g
            gx = grad_out * self.weight.data                # dL/dxhat
        else:
            gx = grad_out
        m = math.prod(self.normalized_shape)
        mean_g = gx.sum(axis=axes, keepdims=True) / m
        mean_gx = np.sum(gx * xhat, axis=axes, keepdims=True) / m
        return (gx - mean_g - xhat * mean_gx) * inv_std

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
