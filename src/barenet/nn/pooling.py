"""Max and average pooling over NCHW images, as reductions of kH*kW strided slices.

Both work on the (C, H, W, N) work view of their input (see ``im2col.py``): a conv's output is
already laid out that way, so every slice is made of long contiguous runs, and the output and
input gradient keep that layout for the next layer.
"""
from __future__ import annotations

import numpy as np

from .im2col import IntPair, from_work, output_size, pad_work, pair, to_work, window_slice
from .module import Module


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

    def _prepare(self, x: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        """Validate ``x`` (N, C, H, W); return its (C, H, W, N) work view and (Ho, Wo)."""
        self._check_input(x, (4,), "(N, C, H, W)")
        h, w = x.shape[2:]
        ho = output_size(h, self.kernel_size[0], self.stride[0], self.padding[0])
        wo = output_size(w, self.kernel_size[1], self.stride[1], self.padding[1])
        if ho < 1 or wo < 1:
            raise ValueError(f"{self!r}: input {h}x{w} is smaller than the kernel "
                             f"{self.kernel_size}; expected (N, C, H, W) with larger H, W")
        return to_work(x), (ho, wo)

    def _offsets(self) -> list[tuple[int, int]]:
        kh, kw = self.kernel_size
        return [(i, j) for i in range(kh) for j in range(kw)]  # row-major, like PyTorch

    def _overlap(self) -> bool:
        return self.stride[0] < self.kernel_size[0] or self.stride[1] < self.kernel_size[1]

    def _scatter(self, parts, padded_shape: tuple[int, ...], out_hw: tuple[int, int],
                 hw: tuple[int, int], dtype: np.dtype) -> np.ndarray:
        """Input gradient (N, C, H, W) from ``(offset, gradient slice)`` pairs, added into
        their windows of a zero (C, Hp, Wp, N) array, then un-padded."""
        dxw = np.zeros(padded_shape, dtype=dtype)
        overlap = self._overlap()
        for (i, j), part in parts:
            target = window_slice(dxw, i, j, out_hw, self.stride)
            if overlap:
                target += part
            else:  # windows do not overlap: each input pixel is written at most once
                target[...] = part
        ph, pw = self.padding
        return from_work(dxw[:, ph:ph + hw[0], pw:pw + hw[1]])

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Maximum over each kH x kW window (padding counts as -inf); floor output size.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo). Backward routes each window's gradient to one
    element, its first maximum in row-major order (PyTorch's choice), so ties are not
    double-counted; overlapping windows add up where they share a maximum.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        xw, out_hw = self._prepare(x)
        if self.kernel_size == self.stride == (2, 2) and self.padding == (0, 0):
            return from_work(self._forward_2x2(xw, out_hw, x.dtype))
        xw = pad_work(xw, self.padding, -np.inf)
        offsets = self._offsets()
        # ``which`` holds the index (into offsets) of each window's first maximum.
        which = np.zeros((xw.shape[0],) + out_hw + (xw.shape[3],),
                         dtype=np.uint8 if len(offsets) < 256 else np.int32)
        out = window_slice(xw, 0, 0, out_hw, self.stride).copy()
        for k, (i, j) in enumerate(offsets[1:], start=1):
            s = window_slice(xw, i, j, out_hw, self.stride)
            better = s > out  # strict: an equal later value never replaces the first maximum
            np.copyto(which, k, where=better)
            np.maximum(out, s, out=out)
        self._cache = ("general", which, xw.shape, x.shape[2:], x.dtype)
        return from_work(out)

    def _out_shape(self) -> tuple[int, ...]:
        """The forward output's (N, C, Ho, Wo), from the cached maps."""
        maps = self._cache[1] if self._cache[0] == "general" else self._cache[2]
        c, ho, wo, n = maps.shape
        return (n, c, ho, wo)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        self._check_grad(grad_out, self._out_shape())
        if self._cache[0] == "2x2":
            return self._backward_2x2(grad_out)
        _, which, padded_shape, hw, dtype = self._cache
        g = to_work(grad_out.astype(np.result_type(dtype, grad_out.dtype), copy=False))
        zero = np.zeros((), dtype=g.dtype)
        parts = ((ij, np.where(which == k, g, zero)) for k, ij in enumerate(self._offsets()))
        return self._scatter(parts, padded_shape, which.shape[1:3], hw, g.dtype)

    # The common 2x2, stride-2 pool as two pairwise maxima: first across each pair of columns,
    # then across each pair of rows of that. A strict ">" at each step picks the first maximum
    # in row-major order, so two boolean maps of "the second one won" locate it for backward.
    # Both directions run over blocks of channels of about 512 KB: each block is read by
    # several passes, and the later ones then find it in the cache.
    _BLOCK_BYTES = 1 << 19

    def _channel_blocks(self, work: np.ndarray) -> list[slice]:
        """Slices of the channel axis of a (C, H, W, N) array, about _BLOCK_BYTES each."""
        per = max(1, self._BLOCK_BYTES // max(1, work[0].nbytes))
        return [slice(c, c + per) for c in range(0, work.shape[0], per)]

    def _forward_2x2(self, xw: np.ndarray, out_hw: tuple[int, int], dtype: np.dtype) -> np.ndarray:
        (ho, wo), c, n = out_hw, xw.shape[0], xw.shape[3]
        h2, w2 = 2 * ho, 2 * wo
        right_won = np.empty((c, h2, wo, n), dtype=bool)      # per pair of columns
        bottom_won = np.empty((c, ho, wo, n), dtype=bool)     # per pair of rows of those
        out = np.empty((c, ho, wo, n), dtype=xw.dtype)
        blocks = self._channel_blocks(xw)
        cols = np.empty((blocks[0].stop - blocks[0].start, h2, wo, n), dtype=xw.dtype)
        for b in blocks:
            x = xw[b]
            left, right = x[:, :h2, 0:w2:2], x[:, :h2, 1:w2:2]
            col_max = cols[:x.shape[0]]                          # (block, 2 Ho, Wo, N)
            np.greater(right, left, out=right_won[b])
            np.maximum(left, right, out=col_max)
            top, bottom = col_max[:, 0::2], col_max[:, 1::2]
            np.greater(bottom, top, out=bottom_won[b])
            np.maximum(top, bottom, out=out[b])
        self._cache = ("2x2", right_won, bottom_won, xw.shape, dtype)
        return out

    def _backward_2x2(self, grad_out: np.ndarray) -> np.ndarray:
        _, right_won, bottom_won, work_shape, dtype = self._cache
        g = to_work(grad_out.astype(np.result_type(dtype, grad_out.dtype), copy=False))
        h, w = work_shape[1:3]
        h2, w2 = right_won.shape[1], 2 * right_won.shape[2]
        dxw = (np.empty if (h, w) == (h2, w2) else np.zeros)(work_shape, dtype=g.dtype)
        # Each of the four window positions gets g where it won, 0 elsewhere: one write per
        # input pixel, from boolean maps a quarter of the input's size.
        for b in self._channel_blocks(dxw):
            bottom = bottom_won[b]
            for row, row_won in ((0, ~bottom), (1, bottom)):
                right = right_won[b, row::2]  # within that row, the right column won
                np.multiply(g[b], row_won & ~right, out=dxw[b, row:h2:2, 0:w2:2])
                np.multiply(g[b], row_won & right, out=dxw[b, row:h2:2, 1:w2:2])
        return from_work(dxw)


class AvgPool2d(_Pool2d):
    """Mean over each kH x kW window, zero padding included in the count (PyTorch's default
    ``count_include_pad=True``); floor output size.

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo). Backward spreads g / (kH*kW) over each window.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        xw, out_hw = self._prepare(x)
        xw = pad_work(xw, self.padding, 0.0) if self.padding != (0, 0) else xw
        offsets = self._offsets()
        out = window_slice(xw, 0, 0, out_hw, self.stride).copy()
        for i, j in offsets[1:]:
            out += window_slice(xw, i, j, out_hw, self.stride)
        out *= out.dtype.type(1.0 / len(offsets))
        self._cache = (xw.shape, x.shape[2:], out_hw)
        return from_work(out)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        padded_shape, hw, out_hw = self._cache
        self._check_grad(grad_out, (padded_shape[3], padded_shape[0]) + out_hw)
        kh, kw = self.kernel_size
        share = to_work(grad_out) * grad_out.dtype.type(1.0 / (kh * kw))
        parts = ((ij, share) for ij in self._offsets())
        return self._scatter(parts, padded_shape, out_hw, hw, share.dtype)
