"""Max and average pooling over NCHW images, as reductions of kH*kW strided slices."""
from __future__ import annotations

import numpy as np

from .im2col import IntPair, offset_slice, output_size, pad2d, pair
from .module import Module


def _channel_major(x: np.ndarray) -> bool:
    """True when (N, C, H, W) ``x`` is laid out in memory as a contiguous (C, N, H, W)."""
    return x.shape[0] > 1 and x.shape[1] > 1 and x.transpose(1, 0, 2, 3).flags.c_contiguous


class _Pool2d(Module):
    """Shared set-up of the 2-D pooling layers: kernel, stride (default: the kernel), padding."""

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

    def _prepare(self, x: np.ndarray, fill: float) -> tuple[np.ndarray, tuple[int, int], bool]:
        """Validate ``x`` (N, C, H, W); return it padded with ``fill``, the output (Ho, Wo) and
        whether it was swapped to (C, N, H, W), which is done when that is its memory order
        (a conv's output): pooling treats the two leading axes alike, and working in memory
        order keeps every slice and result contiguous."""
        self._check_input(x, (4,), "(N, C, H, W)")
        h, w = x.shape[2:]
        ho = output_size(h, self.kernel_size[0], self.stride[0], self.padding[0])
        wo = output_size(w, self.kernel_size[1], self.stride[1], self.padding[1])
        if ho < 1 or wo < 1:
            raise ValueError(f"{self!r}: input {h}x{w} is smaller than the kernel "
                             f"{self.kernel_size}; expected (N, C, H, W) with larger H, W")
        swap = _channel_major(x)
        if swap:
            x = x.transpose(1, 0, 2, 3)
        return pad2d(x, self.padding, fill), (ho, wo), swap

    def _offsets(self) -> list[tuple[int, int]]:
        kh, kw = self.kernel_size
        return [(i, j) for i in range(kh) for j in range(kw)]  # row-major, like PyTorch

    def _overlap(self) -> bool:
        return self.stride[0] < self.kernel_size[0] or self.stride[1] < self.kernel_size[1]

    def _input_grad(self, dxp: np.ndarray, shape: tuple[int, ...], swap: bool) -> np.ndarray:
        ph, pw = self.padding
        dx = dxp[:, :, ph:ph + shape[2], pw:pw + shape[3]]
        return dx.transpose(1, 0, 2, 3) if swap else dx

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each kH x kW window (padding counts as -inf); floor output size.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo). Backward routes each window's gradient to one
    element, its first maximum in row-major order (PyTorch's choice), so ties are not
    double-counted; overlapping windows add up where they share a maximum.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        xp, out_hw, swap = self._prepare(x, -np.inf)
        if self.kernel_size == self.stride == (2, 2) and self.padding == (0, 0):
            out = self._forward_2x2(xp, out_hw, x.shape, x.dtype, swap)
            return out.transpose(1, 0, 2, 3) if swap else out
        offsets = self._offsets()
        # ``which`` holds the index (into offsets) of each window's first maximum.
        which = np.zeros(xp.shape[:2] + out_hw, dtype=np.uint8 if len(offsets) < 256 else np.int32)
        out = offset_slice(xp, 0, 0, out_hw, self.stride).copy()
        for k, (i, j) in enumerate(offsets[1:], start=1):
            s = offset_slice(xp, i, j, out_hw, self.stride)
            better = s > out  # strict: an equal later value never replaces the first maximum
            np.copyto(which, k, where=better)
            np.maximum(out, s, out=out)
        self._cache = (which, xp.shape, x.shape, x.dtype, swap)
        return out.transpose(1, 0, 2, 3) if swap else out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        if self._cache[0] == "2x2":
            return self._backward_2x2(grad_out)
        which, padded_shape, shape, dtype, swap = self._cache
        out_hw = which.shape[2:]
        grad_out = grad_out.astype(np.result_type(dtype, grad_out.dtype), copy=False)
        if swap:
            grad_out = grad_out.transpose(1, 0, 2, 3)
        dxp = np.zeros(padded_shape, dtype=grad_out.dtype)
        overlap = self._overlap()
        zero = np.zeros((), dtype=grad_out.dtype)
        for k, (i, j) in enumerate(self._offsets()):
            target = offset_slice(dxp, i, j, out_hw, self.stride)
            routed = np.where(which == k, grad_out, zero)
            if overlap:
                target += routed
            else:
                target[...] = routed
        return self._input_grad(dxp, shape, swap)

    # The common 2x2, stride-2 pool as two pairwise maxima: first across each pair of columns,
    # then across each pair of rows of that. A strict ">" at each step picks the first maximum
    # in row-major order, so two boolean maps of "the second one won" locate it for backward.
    def _forward_2x2(self, xw: np.ndarray, out_hw: tuple[int, int], shape: tuple[int, ...],
                     dtype: np.dtype, swap: bool) -> np.ndarray:
        h2, w2 = 2 * out_hw[0], 2 * out_hw[1]
        left, right = xw[:, :, :h2, 0:w2:2], xw[:, :, :h2, 1:w2:2]
        right_won = right > left
        cols = np.maximum(left, right)                       # (A, B, 2 Ho, Wo)
        top, bottom = cols[:, :, 0::2], cols[:, :, 1::2]
        bottom_won = bottom > top
        self._cache = ("2x2", right_won, bottom_won, xw.shape, shape, dtype, swap)
        return np.maximum(top, bottom)

    def _backward_2x2(self, grad_out: np.ndarray) -> np.ndarray:
        _, right_won, bottom_won, work_shape, shape, dtype, swap = self._cache
        g = grad_out.astype(np.result_type(dtype, grad_out.dtype), copy=False)
        if swap:
            g = g.transpose(1, 0, 2, 3)
        a, b, h, w = work_shape
        h2, w2 = right_won.shape[2], 2 * right_won.shape[3]
        rows = np.empty(right_won.shape, dtype=g.dtype)     # gradient of ``cols`` above
        np.multiply(g, bottom_won, out=rows[:, :, 1::2])
        np.subtract(g, rows[:, :, 1::2], out=rows[:, :, 0::2])
        dx = (np.empty if (h, w) == (h2, w2) else np.zeros)(work_shape, dtype=g.dtype)
        np.multiply(rows, right_won, out=dx[:, :, :h2, 1:w2:2])
        np.subtract(rows, dx[:, :, :h2, 1:w2:2], out=dx[:, :, :h2, 0:w2:2])
        return dx.transpose(1, 0, 2, 3) if swap else dx


class AvgPool2d(_Pool2d):
    """Mean over each kH x kW window, zero padding included in the count (PyTorch's default
    ``count_include_pad=True``); floor output size.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo). Backward spreads g / (kH*kW) over each window.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        xp, out_hw, swap = self._prepare(x, 0.0)
        offsets = self._offsets()
        out = offset_slice(xp, 0, 0, out_hw, self.stride).copy()
        for i, j in offsets[1:]:
            out += offset_slice(xp, i, j, out_hw, self.stride)
        out *= out.dtype.type(1.0 / len(offsets))
        self._cache = (xp.shape, x.shape, out_hw, swap)
        return out.transpose(1, 0, 2, 3) if swap else out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        padded_shape, shape, out_hw, swap = self._cache
        kh, kw = self.kernel_size
        if swap:
            grad_out = grad_out.transpose(1, 0, 2, 3)
        share = grad_out * grad_out.dtype.type(1.0 / (kh * kw))
        dxp = np.zeros(padded_shape, dtype=share.dtype)
        overlap = self._overlap()
        for i, j in self._offsets():
            target = offset_slice(dxp, i, j, out_hw, self.stride)
            if overlap:
                target += share
            else:
                target[...] = share
        return self._input_grad(dxp, shape, swap)
