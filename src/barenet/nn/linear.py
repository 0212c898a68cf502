"""Linear (fully connected) layer: y = x W^T + b."""
from __future__ import annotations

import math

import numpy as np

from . import init
from .module import Module, Parameter


class Linear(Module):
    """Affine map ``y = x @ W.T + b``.

    Shapes: x (N, in_features) -> y (N, out_features); ``weight`` (out, in), ``bias`` (out,),
    exactly PyTorch's layout. Default init is PyTorch's: W, b ~ U(-1/sqrt(in), 1/sqrt(in)).

    Backward: dL/dW = g^T x, dL/db = sum_n g, dL/dx = g W, for upstream g = dL/dy (N, out).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: init.RNGLike = None, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: features must be positive, got ({in_features}, {out_features})")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        gen = init.as_generator(rng)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(init.uniform((out_features, in_features), bound, gen, dtype))
        self.bias = Parameter(init.uniform((out_features,), bound, gen, dtype)) if bias else None
        self._x: np.ndarray | None = None
        self._wgrad: np.ndarray | None = None  # scratch for g^T x, reused every step

    def reset_parameters(self, rng: init.RNGLike = None) -> None:
        """Redraw weight and bias from U(-1/sqrt(in), 1/sqrt(in)), keeping their dtype."""
        gen = init.as_generator(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        w = self.weight
        w.data = init.uniform(w.shape, bound, gen, w.dtype)
        w.grad = np.zeros_like(w.data)
        if self.bias is not None:
            b = self.bias
            b.data = init.uniform(b.shape, bound, gen, b.dtype)
            b.grad = np.zeros_like(b.data)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, in_features) -> (N, out_features); caches x (by reference) for backward."""
        self._check_input(x, (2,), f"(N, {self.in_features})", size=(1, self.in_features))
        self._x = x
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, out_features) -> dL/dx (N, in_features); accumulates weight/bias grads."""
        self.backward_params_only(grad_out)
        return grad_out @ self.weight.data

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """Weight and bias gradients only: skips dL/dx = g W (a third of the layer's FLOPs)."""
        self._require_cache(self._x)
        self._check_grad(grad_out, (self._x.shape[0], self.out_features))
        dw = self.weight.grad_for_overwrite()
        if dw is not None:  # the first gradient since zero_grad: write it in place
            np.matmul(grad_out.T, self._x, out=dw)
        else:
            # g^T x into a reused buffer, then accumulate: allocating a fresh (out, in) array
            # every step costs more than the product itself (page faults).
            dtype = np.result_type(grad_out, self._x)
            if self._wgrad is None or self._wgrad.dtype != dtype \
                    or self._wgrad.shape != self.weight.shape:
                self._wgrad = np.empty(self.weight.shape, dtype=dtype)
            np.matmul(grad_out.T, self._x, out=self._wgrad)
            self.weight.grad += self._wgrad
        if self.bias is not None:
            db = self.bias.grad_for_overwrite()
            if db is not None:
                np.sum(grad_out, axis=0, out=db)
            else:
                self.bias.grad += grad_out.sum(axis=0)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
