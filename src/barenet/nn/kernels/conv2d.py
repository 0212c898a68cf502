"""Conv2d's fast kernel: im2col on the batch-last layout, the bias folded into the product,
and the large work arrays reused from step to step. 3x3 stride-1 layers where Winograd's
F(2x2, 3x3) pays go to ``winograd.py`` instead (``winograd.chosen``).

The maths is ``nn/conv.py``'s textbook version; four things make this one faster (or leaner):

1. **Batch-last layout** (``batch_last.py``): windows are copied as long contiguous runs, and
   the product ``W2 @ cols`` lands in the output's (C_out, Ho, Wo, N) layout, whose NCHW view
   the next layer reads without a copy.
2. **Bias folding**: with a last row of ones in cols and the bias as a last column of W2, the
   forward product adds the bias and the weight-gradient product yields dL/db as its last
   column, with no separate pass over the output or the gradient.
3. **Reused work arrays** (``workspace.Workspace``): a fresh multi-MB cols array each step
   costs page faults that take about as long as filling it.
4. **dL/dx in blocks of output rows**: ``W2^T @ g`` is made ``DCOLS_BLOCK_BYTES`` at a time and
   summed back by col2im while the block is still in the cache, instead of as one (K, Ho*Wo*N)
   array. It saves memory more than time: training ``cnn-large`` at batch 128 peaked at
   576 MB of RSS with the whole array and 402 MB in blocks, at the same step time.

Measured on the 2-core test machine (``python benchmarks/profile_step.py --models cnn`` with
and without ``--textbook``, batch 64, forward + backward): Conv2d(1, 32, 3x3) 11.0 -> 3.6 ms,
Conv2d(32, 64, 3x3) 42.5 -> 15.7 ms.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..windows import output_size
from . import winograd
from .batch_last import col2im, from_work, im2col, pad_work, to_work
from .workspace import Workspace, buffer

DCOLS_BLOCK_BYTES = 8 << 20
"""dL/dcols is made and summed back by col2im this many bytes at a time (whole output rows)."""


class ConvCache(NamedTuple):
    cols: np.ndarray                      # (K [+ 1], Ho*Wo*N), K = C_in*kH*kW
    padded_shape: tuple[int, ...]         # (C_in, Hp, Wp, N)
    hw: tuple[int, int]                   # the unpadded input's (H, W)
    out_shape: tuple[int, ...]            # the output's (N, C_out, Ho, Wo)
    has_bias: bool


def forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
            stride: tuple[int, int], padding: tuple[int, int],
            ws: Workspace | None) -> tuple[np.ndarray, ConvCache]:
    """x (N, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out,) or None ->
    y (N, C_out, Ho, Wo) (an NCHW view of a batch-last array) and the cache for ``backward``.
    A 3x3 stride-1 layer with enough channels goes to ``winograd.py`` (``winograd.chosen``)."""
    n, _, h, w = x.shape
    c_out, kernel = weight.shape[0], weight.shape[2:]
    ho = output_size(h, kernel[0], stride[0], padding[0])
    wo = output_size(w, kernel[1], stride[1], padding[1])
    if winograd.chosen(weight.shape, stride, (ho, wo)):
        return winograd.forward(x, weight, bias, padding, ws)
    xw = pad_work(to_work(x), padding)                              # (C, Hp, Wp, N)
    k = weight[0].size
    w2 = weight.reshape(c_out, k)
    rows = k if bias is None else k + 1
    cols, fresh = buffer(ws, "cols", (rows, ho * wo * n), xw.dtype)  # (K [+ 1], Ho*Wo*N)
    im2col(xw, kernel, stride, out=cols[:k])
    if bias is not None:  # a last row of ones carries the bias through the products
        if fresh:
            cols[k] = 1
        w2 = np.concatenate([w2, bias[:, None]], axis=1)
    y = w2 @ cols                                                   # (C_out, Ho*Wo*N)
    cache = ConvCache(cols, xw.shape, (h, w), (n, c_out, ho, wo), bias is not None)
    return from_work(y.reshape(c_out, ho, wo, n)), cache


def backward(grad_out: np.ndarray, cache: ConvCache | winograd.WinogradCache, weight: np.ndarray,
             stride: tuple[int, int], padding: tuple[int, int], ws: Workspace | None,
             need_input_grad: bool = True
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """grad_out (N, C_out, Ho, Wo) -> (dW (C_out, C_in, kH, kW), db (C_out,) or None,
    dx (N, C_in, H, W) or None when ``need_input_grad`` is False)."""
    if isinstance(cache, winograd.WinogradCache):
        return winograd.backward(grad_out, cache, padding, ws, need_input_grad)
    cols = cache.cols
    c_out = weight.shape[0]
    k = weight[0].size
    g2 = to_work(grad_out).reshape(c_out, -1)                       # (C_out, Ho*Wo*N)
    # (C_out, K [+ 1]); BLAS runs the product faster with the longer side as its rows
    dw = (cols @ g2.T).T if cols.shape[0] > c_out else g2 @ cols.T
    dweight = dw[:, :k].reshape(weight.shape)
    dbias = dw[:, k] if cache.has_bias else None
    if not need_input_grad:
        return dweight, dbias, None
    w2t = weight.reshape(c_out, k).T                                # (K, C_out)
    n, _, ho, wo = cache.out_shape
    per_row = wo * n                                                # columns per output row
    dtype = np.result_type(w2t, g2)
    rows = max(1, min(ho, DCOLS_BLOCK_BYTES // (k * dtype.itemsize * per_row)))
    flat, _ = buffer(ws, "dcols", (k * rows * per_row,), dtype)
    dxw = np.zeros(cache.padded_shape, dtype=dtype)                 # (C, Hp, Wp, N)
    for first in range(0, ho, rows):  # dcols = W2^T g, one block of output rows at a time
        cut = slice(first * per_row, min(ho, first + rows) * per_row)
        dcols = flat[:k * (cut.stop - cut.start)].reshape(k, -1)   # (K, rows*Wo*N)
        np.matmul(w2t, g2[:, cut], out=dcols)
        col2im(dcols, cache.padded_shape, weight.shape[2:], stride, out=dxw, first_row=first)
    (h, w), (ph, pw) = cache.hw, padding
    return dweight, dbias, from_work(dxw[:, ph:ph + h, pw:pw + w])
