"""Batch normalisation over the batch (and spatial) axes, with PyTorch's running statistics.

Training: y = (x - mean_B) / sqrt(var_B + eps) * weight + bias, with the biased batch variance,
and running_mean/running_var updated as (1 - momentum) * running + momentum * batch_stat, using
the unbiased variance (n / (n - 1)) for the running estimate. With ``momentum=None`` the running
statistics are the cumulative average over ``num_batches_tracked`` batches. Evaluation uses the
running statistics, unless ``track_running_stats=False`` (then batch statistics, always).

Backward (training), with xhat the normalised input, n values per channel and g = dL/dy:
    dL/dbias = sum g,  dL/dweight = sum g * xhat,
    dL/dx = weight / sqrt(var_B + eps) * (g - dL/dbias / n - xhat * dL/dweight / n).
"""
from __future__ import annotations

import numpy as np

from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, ShapeMismatch, values
from .module import Module, Parameter
from .registry import register_layer


class _BatchNorm(Module):
    """Shared machinery; subclasses set the accepted input ranks and describe the shape."""

    LAYOUT_AWARE = True          # reduces over the batch (and H, W), per channel

    ARGS = {"num_features": Arg("size"), "eps": Arg("eps", 1e-5), "momentum": Arg("momentum", 0.1),
            "affine": Arg("bool", True), "track_running_stats": Arg("bool", True)}
    ROLE = "norm"

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        f = c["num_features"]
        return 2 * f * c["affine"], (2 * f + 1) * c["track_running_stats"]

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps the normalised input; backward holds three input-sized arrays beside it
        (the upstream gradient, a product with xhat, the result): two more than the kept
        cache (``moment`` + ``cache``)."""
        x = FLOAT * values(shape)
        return LayerMemory(cache=x, moment=2 * x)

    _ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        c = self.num_features
        self.weight = Parameter(np.empty(c, dtype=dtype)) if self.affine else None
        self.bias = Parameter(np.empty(c, dtype=dtype)) if self.affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.empty(c, dtype=dtype))
            self.register_buffer("running_var", np.empty(c, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        self.reset_parameters()
        self._cache: tuple | None = None

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean = np.zeros_like(self.running_mean)
            self.running_var = np.ones_like(self.running_var)
            self.num_batches_tracked = np.zeros((), dtype=np.int64)

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data = np.ones_like(self.weight.data)
            self.weight.grad = np.zeros_like(self.weight.data)
            self.bias.data = np.zeros_like(self.bias.data)
            self.bias.grad = np.zeros_like(self.bias.data)

    def _expected(self) -> str:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, self._ndims, self._expected(), size=(1, self.num_features))
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector over x
        n = x.size // self.num_features
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            if n < 2 and self.training:
                raise ValueError(f"{self!r}: expected more than 1 value per channel in training "
                                 f"mode, got input of shape {x.shape}")
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(shape)
            var = np.mean(np.square(xc), axis=axes)
            if self.training and self.track_running_stats:
                self._update_running(mean, var, n)
        else:
            mean, var = self.running_mean, self.running_var
            xc = x - mean.reshape(shape).astype(x.dtype, copy=False)
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xhat = xc
        xhat *= inv_std.reshape(shape)
        self._cache = (xhat, inv_std, use_batch, axes, shape, n)
        if not self.affine:
            return xhat
        out = xhat * self.weight.data.reshape(shape)
        out += self.bias.data.reshape(shape)
        return out

    def _update_running(self, mean: np.ndarray, var: np.ndarray, n: int) -> None:
        self.num_batches_tracked = np.asarray(self.num_batches_tracked + 1)  # stays a 0-d buffer
        m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        dt = self.running_mean.dtype
        self.running_mean = ((1 - m) * self.running_mean + m * mean).astype(dt, copy=False)
        unbiased = var * (n / (n - 1))
        self.running_var = ((1 - m) * self.running_var + m * unbiased).astype(dt, copy=False)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        xhat, inv_std, use_batch, axes, shape, n = self._cache
        self._check_grad(grad_out, xhat.shape)
        sum_g = grad_out.sum(axis=axes)
        sum_gx = np.sum(grad_out * xhat, axis=axes)
        if self.affine:
            self.weight.accumulate_grad(sum_gx)      # dL/dweight = sum g * xhat
            self.bias.accumulate_grad(sum_g)         # dL/dbias = sum g
            scale = self.weight.data.astype(xhat.dtype, copy=False) * inv_std
        else:
            scale = inv_std
        if not use_batch:  # running statistics are constants: a per-channel affine map
            return grad_out * scale.reshape(shape)
        dx = xhat * (sum_gx / n).reshape(shape)
        np.subtract(grad_out, dx, out=dx)
        dx -= (sum_g / n).reshape(shape)
        dx *= scale.reshape(shape)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


@register_layer
class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs over N (and L), one weight/bias per channel C.

    Args: num_features C, eps, momentum (None: cumulative average), affine (learnable weight
    and bias), track_running_stats (keep running_mean/running_var buffers for eval), dtype.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"num_features": 4}, (4,))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """A flat vector of num_features."""
        return (c["num_features"],)

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        f = c["num_features"]
        if tuple(shape[:1]) != (f,) or len(shape) not in (1, 2):
            raise ShapeMismatch(f"(N, {f}) or (N, {f}, L)")
        return tuple(shape)

    _ndims = (2, 3)

    def _expected(self) -> str:
        return f"(N, {self.num_features}) or (N, {self.num_features}, L)"


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch norm of NCHW images (N, C, H, W) over N, H and W, one weight/bias per channel C.

    Args as ``BatchNorm1d``.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"num_features": 3}, (3, 4, 4))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """Images of num_features channels."""
        return (c["num_features"], *image_size)

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        f = c["num_features"]
        if tuple(shape[:1]) != (f,) or len(shape) != 3:
            raise ShapeMismatch(f"(N, {f}, H, W)")
        return tuple(shape)

    _ndims = (4,)

    def _expected(self) -> str:
        return f"(N, {self.num_features}, H, W)"
