"""Winograd's F(2x2, 3x3) convolution (Lavin & Gray 2015) for 3x3, stride-1 Conv2d layers.

Each 2x2 output tile is ``A^T [(G g G^T) * (B^T d B)] A`` of the 4x4 input tile ``d`` under it
(``docs/winograd.md``; the transforms are in ``winograd_transforms.py``). Summed over input
channels, the 16 element-wise products become 16 matrix products over the channels, 16 instead
of im2col's 36 multiply-adds per tile and channel pair. Shapes: x (N, C_in, H, W), any padding;
tiles (th, tw) = (ceil(Ho / 2), ceil(Wo / 2)), an odd output computed from zeros and cut.

- forward: x -> split padded grid x4 (2, 2, C_in, th + 1, tw + 1, N) -> V = B^T d B
  (4, 4, C_in, th + 1, tw + 1, N), kept for backward -> U = G g G^T (16, C_out, C_in) -> per
  tile position k, M_k = U_k V_k (C_out, tiles*N) -> Y = A^T M A -> y (C_out, Ho, Wo, N), whose
  NCHW view is returned (batch-last, as the im2col kernel's). A bias is added to M[1, 1].
- backward: dM = A gY A^T; dU_k = dM_k V_k^T and dW = G^T dU G; db = sum of dM[1, 1];
  dV_k = U_k^T dM_k (written over V); dx = B dV B^T of every tile, summed where tiles overlap.

U is recomputed at every forward and kept for backward: one (16, 9) x (9, C_out*C_in) product,
0.05 ms for 64x64 channels against about 20 ms for the layer's forward, and never stale after
an optimizer updates the weights in place (which a cache keyed on the array would miss).
M and dM are made in blocks of tile rows (``BLOCK_BYTES``, at most ``MAX_BLOCKS`` blocks).
Memory: a ``cnn-large`` training step at batch 128 peaked at 295 MB of NumPy arrays
(tracemalloc) against 321 MB with im2col everywhere: V (about 4.6x the input) is smaller than
im2col's 9x, so ``Conv2d.step_memory`` (written for im2col) still bounds it.

**When it is used** (``chosen``): 3x3 at stride 1, at least ``MIN_CHANNELS`` input and
output channels, no more outputs than inputs (``MAX_GROWTH``) and a tile grid that wastes
little (``waste`` <= ``MAX_WASTE``). Forward + backward per layer (``python
benchmarks/winograd.py``, 2-core AMD EPYC shared with other work; ms, median of 11
alternating pairs, ratio = median of the pairs' Winograd / im2col; 1 thread =
``OPENBLAS_NUM_THREADS=1``, 2 threads = the three runs made while the load was below 1.6):

    layer (batch)                           1 thread: im2col  Winograd  ratio | 2 threads: ratio
    cnn-large 1->32, 28x28, pad 1 (128)            5.3      27.6    5.2   |   4.0-7.8
    cnn-large 32->32, 28x28, pad 1 (128)         109.0      81.9    0.74  |   0.86-0.93
    cnn-large 32->64, 14x14, pad 1 (128)          43.7      39.8    0.91  |   0.81-1.13
    cnn-large 64->64, 14x14, pad 1 (128)          81.9      66.0    0.82  |   0.86-0.93
    cnn 1->32, 28x28, pad 0 (64)                   2.3      12.2    5.5   |   7.3-7.5
    cnn 32->64, 13x13 -> 11x11 (64)               12.8      12.2    0.95  |   1.19-1.20

With one input channel the 16 products are outer products and the transforms of a 4x larger M
dominate. Single-threaded (process CPU time, 32->32 at batch 128, padding 1) the ratio was
0.61-0.89 where the tile grid wastes at most 25% (outputs of 8, 10, 12, 16 a side) and
0.92-1.17 where it wastes 33-63% (6, 7, 9, 11, 13: odd sides, or a junk tile column that is a
third of three): hence ``MAX_WASTE``. With two BLAS threads the products run twice as fast but
the transforms do not: they are memory-bound (an add split over two threads ran no faster), so
the gain shrinks to 7-14%, and a layer whose output is the larger side gains nothing. Whole
``cnn-large`` training step, batch 128 (``cnn`` keeps im2col): 1 thread 296.8 -> 243.6 ms
(0.83 of im2col, PyTorch 233.3 ms); 2 threads 209.9 -> 212.0 ms (0.99, PyTorch 127.3 ms).
Each product is one BLAS call, 16 per direction per block: when other processes compete for
the cores, every multi-threaded call can wait for a descheduled BLAS thread, and Winograd's
layers then stalled far more often than im2col's (single calls of seconds were seen at a load
of 4 on 2 cores); ``kernels.set_conv_choice("im2col")`` keeps the one-product path.

**float32 error** against float64 on the same numbers (max |error| / max |reference|, the
models' layers at their batch sizes): Winograd y 1.8-3.5e-7, dx 2.3-3.5e-7, dW 5.5-9.0e-7;
im2col y 1.1-9.3e-7, dx 1.5-2.2e-7, dW 3.7-6.2e-7. F(4x4, 3x3) was tried (forward only, same
layout, 1 thread, process CPU time): its 36 products took 8.2 ms against about 15 for these
16, but its transforms (entries 4, 5, 1/6, ...) took 19 against 14, so the forward was 27.3
against 29.4 ms on 32->32 and 21.2 against 24.1 on 64->64, with 20x the error (6.7e-6 of the
largest output). With two threads the products halve and the transforms do not, which erases
that margin: not kept.
"""
from __future__ import annotations

import numpy as np

from . import conv_choice
from .batch_last import from_work, to_work
from .winograd_transforms import (
    filter_adjoint,
    filter_transform,
    input_adjoint,
    input_transform,
    merge_grid,
    output_adjoint,
    output_transform,
    split_grid,
)
from .workspace import Workspace, buffer

BLOCK_BYTES = 8 << 20
"""The products M (forward) and dM with the block of gY it comes from (backward) are made
this many bytes at a time, in whole tile rows, unless that takes more than ``MAX_BLOCKS``."""
MAX_BLOCKS = 4
"""At most this many blocks: each block is 16 matrix products per direction, and every call
of a multi-threaded BLAS waits for its threads."""


MIN_CHANNELS = 16
"""``chosen`` picks Winograd for layers with at least this many input and output channels,"""
MAX_GROWTH = 1.0
"""no more than this many output channels per input channel (M and dM, 4x the output, are
where the time goes when the output is the larger side),"""
MAX_WASTE = 1.25
"""and a tile grid that computes at most this many numbers per output number (``waste``)."""


def applies(weight_shape: tuple[int, ...], stride: tuple[int, int]) -> bool:
    """True for the layers F(2x2, 3x3) computes: a 3x3 kernel at stride 1 (any padding)."""
    return tuple(weight_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)


def waste(ho: int, wo: int) -> float:
    """Numbers the kernel computes per output number: an odd side adds a row or column of half
    empty tiles, and the products also run over one junk tile column (th x (tw + 1) tiles)."""
    th, tw = (ho + 1) // 2, (wo + 1) // 2
    return 4 * th * (tw + 1) / (ho * wo)


def chosen(weight_shape: tuple[int, ...], stride: tuple[int, int],
           out_hw: tuple[int, int]) -> bool:
    """Whether Conv2d's fast path runs this layer with Winograd: where it applies and either
    ``kernels.conv_choice()`` is "winograd", or it is "auto" and the layer passes the measured
    limits (``MIN_CHANNELS``, ``MAX_GROWTH``, ``MAX_WASTE`` for its output of ``out_hw``)."""
    choice = conv_choice()
    if choice == "im2col" or not applies(weight_shape, stride):
        return False
    c_out, c_in = weight_shape[:2]
    return choice == "winograd" or (min(c_in, c_out) >= MIN_CHANNELS
                                    and c_out <= MAX_GROWTH * c_in
                                    and waste(*out_hw) <= MAX_WASTE)


class WinogradCache:
    """What ``backward`` needs: V = B^T d B of every input tile, (4, 4, C_in, th + 1, tw + 1, N)
    (the last tile row and column are junk), U = G g G^T (16, C_out, C_in), the input's (H, W),
    the output's (N, C_out, Ho, Wo) and whether there is a bias. dL/dx overwrites V with dL/dV,
    so a second backward after one forward is refused (``spent``)."""

    __slots__ = ("v", "u", "hw", "out_shape", "has_bias", "spent")

    def __init__(self, v: np.ndarray, u: np.ndarray, hw: tuple[int, int],
                 out_shape: tuple[int, ...], has_bias: bool) -> None:
        self.v, self.u, self.hw, self.out_shape, self.has_bias = v, u, hw, out_shape, has_bias
        self.spent = False


def _get(ws: Workspace | None, name: str, shape: tuple[int, ...], dtype: np.dtype,
         size: int | None = None) -> np.ndarray:
    """A C-contiguous ``shape`` array: the first numbers of a (reused) flat buffer of ``size``
    (default: just enough), so that blocks of several heights share one buffer."""
    count = int(np.prod(shape))
    return buffer(ws, name, (count if size is None else size,), dtype)[0][:count].reshape(shape)


def _blocks(th: int, m_row_bytes: int) -> tuple[int, list[tuple[int, int]]]:
    """(rows per block, [(first, stop) tile rows]): at most ``MAX_BLOCKS`` blocks, each as
    many rows as fit ``BLOCK_BYTES`` with M (``m_row_bytes`` a row) and gY (a quarter of it)."""
    fit = BLOCK_BYTES * 4 // (5 * m_row_bytes)
    rows = max(1, min(th, max(fit, -(-th // MAX_BLOCKS))))
    return rows, [(r, min(th, r + rows)) for r in range(0, th, rows)]


def _geometry(x_shape: tuple[int, ...], c_out: int, padding: tuple[int, int]) -> dict:
    n, c_in, h, w = x_shape
    ho, wo = h + 2 * padding[0] - 2, w + 2 * padding[1] - 2
    th, tw = (ho + 1) // 2, (wo + 1) // 2                      # tiles; odd sizes round up
    return {"n": n, "c_in": c_in, "ho": ho, "wo": wo, "th": th, "tw": tw,
            "grid": (2, 2, c_in, th + 1, tw + 1, n), "m_row": 16 * c_out * (tw + 1) * n}


def forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
            padding: tuple[int, int], ws: Workspace | None
            ) -> tuple[np.ndarray, WinogradCache]:
    """x (N, C_in, H, W), weight (C_out, C_in, 3, 3), bias (C_out,) or None -> y (N, C_out,
    Ho, Wo), an NCHW view of a batch-last array, and the cache for ``backward``."""
    c_out = weight.shape[0]
    geo = _geometry(x.shape, c_out, padding)
    n, c_in, ho, wo, th, tw = (geo[k] for k in ("n", "c_in", "ho", "wo", "th", "tw"))
    dtype = np.result_type(x, weight)
    x4 = split_grid(to_work(x), padding, _get(ws, "wino_x", geo["grid"], dtype))
    v = _get(ws, "wino_v", (4, 4, c_in, th + 1, tw + 1, n), dtype)
    input_transform(x4, v, _get(ws, "wino_tmp", geo["grid"][1:], dtype))
    u = filter_transform(np.asarray(weight, dtype=dtype))       # (16, C_out, C_in)
    vm = v.reshape(16, c_in, th + 1, -1)                        # (16, C_in, th + 1, (tw+1)*N)
    b = None if bias is None else np.asarray(bias, dtype=dtype)[:, None, None, None]
    y = np.empty((c_out, ho, wo, n), dtype=dtype)
    rows, blocks = _blocks(th, geo["m_row"] * dtype.itemsize)
    for first, stop in blocks:
        m = _get(ws, "wino_m", (4, 4, c_out, stop - first, tw + 1, n), dtype, rows * geo["m_row"])
        mm = m.reshape(16, c_out, -1)
        for k in range(16):                                     # the 16 products over channels
            np.matmul(u[k], vm[k, :, first:stop].reshape(c_in, -1), out=mm[k])
        if b is not None:  # A^T's column 1 is all ones: M[1, 1] reaches all 4 output pixels
            m[1, 1] += b
        for a, pixels in enumerate(output_transform(m)):        # Y = A^T M A, then interleaved
            last = min(stop, (ho - a + 1) // 2)                 # tile rows with an output row a
            for c, pixel in enumerate(pixels):
                y[:, 2 * first + a:2 * last:2, c::2] = pixel[:, :last - first, :(wo - c + 1) // 2]
    return from_work(y), WinogradCache(v, u, x.shape[2:], (n, c_out, ho, wo), bias is not None)


def backward(grad_out: np.ndarray, cache: WinogradCache, padding: tuple[int, int],
             ws: Workspace | None, need_input_grad: bool = True
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """grad_out (N, C_out, Ho, Wo) -> (dW (C_out, C_in, 3, 3), db (C_out,) or None,
    dx (N, C_in, H, W) or None when ``need_input_grad`` is False)."""
    if cache.spent:
        raise RuntimeError("Conv2d (Winograd kernel): backward was already run after this "
                           "forward; run forward again before another backward")
    v, u = cache.v, cache.u
    n, c_out, ho, wo = cache.out_shape
    geo = _geometry((n, u.shape[2], *cache.hw), c_out, padding)
    c_in, th, tw = geo["c_in"], geo["th"], geo["tw"]
    dtype = v.dtype
    g = to_work(grad_out)                                       # (C_out, Ho, Wo, N)
    vm = v.reshape(16, c_in, th + 1, -1)
    du = np.zeros(u.shape, dtype=dtype)
    db = np.zeros(c_out, dtype=dtype) if cache.has_bias else None
    rows, blocks = _blocks(th, geo["m_row"] * dtype.itemsize)
    for first, stop in blocks:
        nr = stop - first
        g4 = _get(ws, "wino_g", (2, 2, c_out, nr, tw + 1, n), dtype, rows * geo["m_row"] // 4)
        split_grid(g[:, 2 * first:2 * stop], (0, 0), g4)         # gY of these tile rows
        dm = _get(ws, "wino_m", (4, 4, c_out, nr, tw + 1, n), dtype, rows * geo["m_row"])
        output_adjoint(g4, dm)                                  # dM = A gY A^T per tile
        dmm = dm.reshape(16, c_out, -1)
        for k in range(16):                                     # dU += dM V^T over the tiles
            du[k] += dmm[k] @ vm[k, :, first:stop].reshape(c_in, -1).T
        if db is not None:                                      # gY summed over each tile
            db += dmm[5].sum(axis=1)
        if need_input_grad:                                     # dV = U^T dM, in V's place
            for k in range(16):
                np.matmul(u[k].T, dmm[k], out=vm[k, :, first:stop].reshape(c_in, -1))
    dweight = filter_adjoint(du)
    if not need_input_grad:
        return dweight, db, None
    cache.spent = True
    v[:, :, :, th] = 0                                          # the junk tile row
    dx4 = _get(ws, "wino_x", geo["grid"], dtype)
    dx4.fill(0)
    input_adjoint(v, dx4, _get(ws, "wino_tmp", geo["grid"][1:], dtype))
    return dweight, db, from_work(merge_grid(dx4, padding, cache.hw))
