"""Max and average pooling over NCHW images: a reduction over each window."""
from __future__ import annotations

import numpy as np

from . import kernels
from .kernels import pool2d as fast
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, NoParameters, values
from .module import Module
from .registry import register_layer
from .windows import (
    IntPair,
    add_windows,
    output_size,
    pad,
    pair,
    unpad,
    window_output,
    window_sizes,
    windows,
)


class _Pool2d(NoParameters, Module):
    """Shared set-up of the 2-D pooling layers: kernel, stride (default: the kernel), padding."""

    LAYOUT_AWARE = True          # its kernel works batch-last

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """One-channel images."""
        return (1, *image_size)

    ARGS = {"kernel_size": Arg("kernel"), "stride": Arg("kernel", None), "padding": Arg("pad", 0)}

    @classmethod
    def check_config(cls, config: dict) -> dict:
        c = super().check_config(config)
        if c["stride"] is None:
            c["stride"] = c["kernel_size"]
        if any(p > k // 2 for p, k in zip(c["padding"], c["kernel_size"])):
            raise ValueError(f"padding must be at most half the kernel size {c['kernel_size']}, "
                             f"got {c['padding']}")
        return c

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        return window_output(tuple(shape), c)

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        padded, _, _ = window_sizes(tuple(shape), c)
        x, y = FLOAT * values(shape), FLOAT * values(out)
        return LayerMemory(moment=FLOAT * padded + 2 * y + x, eval_moment=x + y + FLOAT * padded)

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 padding: IntPair = 0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(kernel_size, f"{name} kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, f"{name} stride")
        self.padding = pair(padding, f"{name} padding", minimum=0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding {self.padding} must be at most half the kernel "
                             f"size {self.kernel_size}")
        self._cache: tuple | None = None
        self._out_shape: tuple[int, ...] | None = None

    def _check(self, x: np.ndarray) -> tuple[int, int]:
        """Validate ``x`` (N, C, H, W); return (Ho, Wo)."""
        self._check_input(x, (4,), "(N, C, H, W)")
        h, w = x.shape[2:]
        ho = output_size(h, self.kernel_size[0], self.stride[0], self.padding[0])
        wo = output_size(w, self.kernel_size[1], self.stride[1], self.padding[1])
        if ho < 1 or wo < 1:
            raise ValueError(f"{self!r}: input {h}x{w} is smaller than the kernel "
                             f"{self.kernel_size}; expected (N, C, H, W) with larger H, W")
        self._out_shape = x.shape[:2] + (ho, wo)
        return ho, wo

    def _windows(self, x: np.ndarray, fill: float) -> tuple[np.ndarray, tuple[int, ...]]:
        """Every window of x padded with ``fill``: (N, C, Ho, Wo, kH*kW), and the padded shape."""
        xp = pad(x, self.padding, fill)                              # (N, C, Hp, Wp)
        win = windows(xp, self.kernel_size, self.stride)             # (N, C, Ho, Wo, kH, kW)
        return win.reshape(win.shape[:4] + (-1,)), xp.shape

    def _backward_windows(self, dwin: np.ndarray, padded_shape: tuple[int, ...]) -> np.ndarray:
        """Window gradients (N, C, Ho, Wo, kH*kW) summed back into dL/dx (N, C, H, W)."""
        dwin = dwin.reshape(dwin.shape[:4] + self.kernel_size)
        return unpad(add_windows(dwin, padded_shape, self.stride), self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


@register_layer
class MaxPool2d(_Pool2d):
    """Maximum over each kH x kW window (padding counts as -inf); floor output size.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo). Backward routes each window's gradient to one
    element, its first maximum in row-major order (PyTorch's choice), so ties are not
    double-counted; overlapping windows add up where they share a maximum. The fast kernel
    (``kernels/pool2d.py``) computes the same on a batch-last layout.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"kernel_size": 2}, (2, 6, 6))

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Plus the winners' masks (one byte per input pair and per output) kept for backward."""
        base = super().step_memory(c, shape, out, first)
        return LayerMemory(cache=values(shape) // 2 + values(out), moment=base.moment,
                           eval_moment=base.eval_moment)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        if kernels.enabled():
            y, cache = fast.max_forward(x, self.kernel_size, self.stride, self.padding)
            self._cache = ("fast", cache)
            return y
        win, padded_shape = self._windows(x, -np.inf)               # (N, C, Ho, Wo, K)
        first_max = win.argmax(axis=-1)                             # (N, C, Ho, Wo)
        self._cache = ("textbook", first_max, padded_shape, x.dtype)
        return np.take_along_axis(win, first_max[..., None], axis=-1)[..., 0]

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, C, Ho, Wo) -> dL/dx (N, C, H, W)."""
        self._require_cache(self._cache)
        self._check_grad(grad_out, self._out_shape)
        if self._cache[0] == "fast":
            return fast.max_backward(grad_out, self._cache[1])
        _, first_max, padded_shape, dtype = self._cache
        k = self.kernel_size[0] * self.kernel_size[1]
        dwin = np.zeros(first_max.shape + (k,), dtype=np.result_type(dtype, grad_out))
        np.put_along_axis(dwin, first_max[..., None], grad_out[..., None], axis=-1)
        return self._backward_windows(dwin, padded_shape)


@register_layer
class AvgPool2d(_Pool2d):
    """Mean over each kH x kW window, zero padding included in the count (PyTorch's default
    ``count_include_pad=True``); floor output size.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo). Backward spreads g / (kH*kW) over each window.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 7, 7))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        if kernels.enabled():
            y, cache = fast.avg_forward(x, self.kernel_size, self.stride, self.padding)
            self._cache = ("fast", cache)
            return y
        win, padded_shape = self._windows(x, 0.0)                   # (N, C, Ho, Wo, K)
        self._cache = ("textbook", padded_shape)
        return win.mean(axis=-1, dtype=x.dtype)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, C, Ho, Wo) -> dL/dx (N, C, H, W)."""
        self._require_cache(self._cache)
        self._check_grad(grad_out, self._out_shape)
        if self._cache[0] == "fast":
            return fast.avg_backward(grad_out, self._cache[1])
        k = self.kernel_size[0] * self.kernel_size[1]
        share = grad_out * grad_out.dtype.type(1.0 / k)            # each pixel's share of g
        dwin = np.broadcast_to(share[..., None], share.shape + (k,))
        return self._backward_windows(dwin, self._cache[1])
