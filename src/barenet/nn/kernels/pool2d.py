"""Pooling's fast kernels: max and average pooling on the batch-last layout, and the common
2x2 max pool as two pairwise maxima over cache-sized channel blocks.

The maths is ``nn/pooling.py``'s textbook version (windows, argmax, scatter back). Here every
window offset is one strided slice of the (C, H, W, N) work view (``batch_last.py``), which a
conv output already has, so slices are long contiguous runs and the output and input gradient
keep that layout for the neighbouring layers. The 2x2, stride-2 max pool (every CNN here uses
it) takes a shortcut: a strict ">" between the two columns of each window, then between the two
rows of that, picks the first maximum in row-major order as PyTorch does, and two boolean maps
a quarter of the input's size locate it for backward. Both directions run over blocks of
channels of about 512 KB, so the later passes over a block find it in the cache. Measured on
the 2-core test machine (``python benchmarks/profile_step.py --models cnn`` with and without
``--textbook``, batch 64, forward + backward): the default CNN's first 2x2 pool (32 channels of
26x26) 39.1 -> 7.6 ms, its second 14.6 -> 2.5 ms.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from ..windows import output_size
from .batch_last import from_work, pad_work, to_work, window_slice

BLOCK_BYTES = 1 << 19


def _out_hw(hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
            padding: tuple[int, int]) -> tuple[int, int]:
    return (output_size(hw[0], kernel[0], stride[0], padding[0]),
            output_size(hw[1], kernel[1], stride[1], padding[1]))


def _offsets(kernel: tuple[int, int]) -> list[tuple[int, int]]:
    return [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]  # row-major, as PyTorch


def _scatter(parts: Iterator[tuple[tuple[int, int], np.ndarray]], padded_shape: tuple[int, ...],
             out_hw: tuple[int, int], hw: tuple[int, int], kernel: tuple[int, int],
             stride: tuple[int, int], padding: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """Input gradient (N, C, H, W) from ``(offset, gradient slice)`` pairs, added into their
    windows of a zero (C, Hp, Wp, N) array, then un-padded."""
    dxw = np.zeros(padded_shape, dtype=dtype)
    overlap = stride[0] < kernel[0] or stride[1] < kernel[1]
    for (i, j), part in parts:
        target = window_slice(dxw, i, j, out_hw, stride)
        if overlap:
            target += part
        else:  # windows do not overlap: each input pixel is written at most once
            target[...] = part
    ph, pw = padding
    return from_work(dxw[:, ph:ph + hw[0], pw:pw + hw[1]])


def is_2x2(kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> bool:
    """True for the 2x2, stride-2, unpadded max pool that ``max_forward_2x2`` handles."""
    return kernel == stride == (2, 2) and padding == (0, 0)


def max_forward(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int]) -> tuple[np.ndarray, tuple]:
    """x (N, C, H, W) -> (y (N, C, Ho, Wo), cache); padding counts as -inf."""
    if is_2x2(kernel, stride, padding):
        return max_forward_2x2(x)
    out_hw = _out_hw(x.shape[2:], kernel, stride, padding)
    xw = pad_work(to_work(x), padding, -np.inf)
    offsets = _offsets(kernel)
    # ``which`` holds the index (into offsets) of each window's first maximum.
    which = np.zeros((xw.shape[0],) + out_hw + (xw.shape[3],),
                     dtype=np.uint8 if len(offsets) < 256 else np.int32)
    out = window_slice(xw, 0, 0, out_hw, stride).copy()
    for k, (i, j) in enumerate(offsets[1:], start=1):
        s = window_slice(xw, i, j, out_hw, stride)
        better = s > out  # strict: an equal later value never replaces the first maximum
        np.copyto(which, k, where=better)
        np.maximum(out, s, out=out)
    return from_work(out), ("general", which, xw.shape, x.shape[2:], x.dtype,
                            kernel, stride, padding)


def max_backward(grad_out: np.ndarray, cache: tuple) -> np.ndarray:
    """grad_out (N, C, Ho, Wo) -> dL/dx (N, C, H, W): each window's gradient goes to its
    first maximum."""
    if cache[0] == "2x2":
        return max_backward_2x2(grad_out, cache)
    _, which, padded_shape, hw, dtype, kernel, stride, padding = cache
    g = to_work(grad_out.astype(np.result_type(dtype, grad_out.dtype), copy=False))
    zero = np.zeros((), dtype=g.dtype)
    parts = ((ij, np.where(which == k, g, zero)) for k, ij in enumerate(_offsets(kernel)))
    return _scatter(parts, padded_shape, which.shape[1:3], hw, kernel, stride, padding, g.dtype)


def _channel_blocks(work: np.ndarray) -> list[slice]:
    """Slices of the channel axis of a (C, H, W, N) array, about BLOCK_BYTES each."""
    per = max(1, BLOCK_BYTES // max(1, work[0].nbytes))
    return [slice(c, c + per) for c in range(0, work.shape[0], per)]


def max_forward_2x2(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    """The 2x2, stride-2 max pool of x (N, C, H, W) -> (y (N, C, H//2, W//2), cache)."""
    xw = to_work(x)
    (ho, wo), c, n = (x.shape[2] // 2, x.shape[3] // 2), xw.shape[0], xw.shape[3]
    h2, w2 = 2 * ho, 2 * wo
    right_won = np.empty((c, h2, wo, n), dtype=bool)      # per pair of columns
    bottom_won = np.empty((c, ho, wo, n), dtype=bool)     # per pair of rows of those
    out = np.empty((c, ho, wo, n), dtype=xw.dtype)
    blocks = _channel_blocks(xw)
    cols = np.empty((blocks[0].stop - blocks[0].start, h2, wo, n), dtype=xw.dtype)
    for b in blocks:
        xb = xw[b]
        left, right = xb[:, :h2, 0:w2:2], xb[:, :h2, 1:w2:2]
        col_max = cols[:xb.shape[0]]                       # (block, 2 Ho, Wo, N)
        np.greater(right, left, out=right_won[b])
        np.maximum(left, right, out=col_max)
        top, bottom = col_max[:, 0::2], col_max[:, 1::2]
        np.greater(bottom, top, out=bottom_won[b])
        np.maximum(top, bottom, out=out[b])
    return from_work(out), ("2x2", right_won, bottom_won, xw.shape, x.dtype)


def max_backward_2x2(grad_out: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward of ``max_forward_2x2``: one masked write per input pixel."""
    _, right_won, bottom_won, work_shape, dtype = cache
    g = to_work(grad_out.astype(np.result_type(dtype, grad_out.dtype), copy=False))
    h, w = work_shape[1:3]
    h2, w2 = right_won.shape[1], 2 * right_won.shape[2]
    dxw = (np.empty if (h, w) == (h2, w2) else np.zeros)(work_shape, dtype=g.dtype)
    # Each of the four window positions gets g where it won, 0 elsewhere.
    for b in _channel_blocks(dxw):
        bottom = bottom_won[b]
        for row, row_won in ((0, ~bottom), (1, bottom)):
            right = right_won[b, row::2]  # within that row, the right column won
            np.multiply(g[b], row_won & ~right, out=dxw[b, row:h2:2, 0:w2:2])
            np.multiply(g[b], row_won & right, out=dxw[b, row:h2:2, 1:w2:2])
    return from_work(dxw)


def avg_forward(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int]) -> tuple[np.ndarray, tuple]:
    """x (N, C, H, W) -> (y (N, C, Ho, Wo), cache); zero padding counts in the mean."""
    out_hw = _out_hw(x.shape[2:], kernel, stride, padding)
    xw = to_work(x)
    xw = pad_work(xw, padding, 0.0) if padding != (0, 0) else xw
    offsets = _offsets(kernel)
    out = window_slice(xw, 0, 0, out_hw, stride).copy()
    for i, j in offsets[1:]:
        out += window_slice(xw, i, j, out_hw, stride)
    out *= out.dtype.type(1.0 / len(offsets))
    return from_work(out), (xw.shape, x.shape[2:], out_hw, kernel, stride, padding)


def avg_backward(grad_out: np.ndarray, cache: tuple) -> np.ndarray:
    """grad_out (N, C, Ho, Wo) -> dL/dx (N, C, H, W): g / (kH*kW) spread over each window."""
    padded_shape, hw, out_hw, kernel, stride, padding = cache
    share = to_work(grad_out) * grad_out.dtype.type(1.0 / (kernel[0] * kernel[1]))
    parts = ((ij, share) for ij in _offsets(kernel))
    return _scatter(parts, padded_shape, out_hw, hw, kernel, stride, padding, share.dtype)
