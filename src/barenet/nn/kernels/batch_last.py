"""The batch-last layout: im2col/col2im and window slices on (C, H, W, N) arrays.

The fast twin of ``nn/windows.py`` (same window grid, same results). Layers see NCHW arrays,
but the fast kernels work on the *work view* (C, H, W, N): the batch axis innermost.
Every window slice ``xw[:, i:i+Ho, j:j+Wo, :]`` of a contiguous work array is then
made of long contiguous runs (Wo*N numbers), so NumPy copies and adds it at memory speed
instead of paying per-row overhead on rows of a dozen pixels. The matrix product
``weight (C_out, C*kH*kW) @ cols (C*kH*kW, Ho*Wo*N)`` lands directly in the work layout of the
output, whose NCHW view (``from_work``) is a transpose, not a copy; the next layer's
``to_work`` is then contiguous again. Elementwise NumPy operations keep their input's memory
order, so the layout flows through ReLU and pooling for free. Any other strides still give
correct results, only slower.

Everything here is vectorised: the only Python loops run over the kH*kW kernel offsets, each of
which moves one whole strided slice at once. Measured on the 2-core test machine
(``python benchmarks/profile_step.py --models cnn`` with and without ``--textbook``), a default
CNN training step at batch 64 took 117 ms on the NCHW textbook code and 37 ms on the kernels.
"""
from __future__ import annotations

import numpy as np

from ..windows import output_size


def to_work(x: np.ndarray) -> np.ndarray:
    """The (C, H, W, N) work view of an (N, C, H, W) array (a transpose: no copy)."""
    return x.transpose(1, 2, 3, 0)


def from_work(xw: np.ndarray) -> np.ndarray:
    """The (N, C, H, W) view of a (C, H, W, N) work array (a transpose: no copy)."""
    return xw.transpose(3, 0, 1, 2)


def pad_work(xw: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """(C, H, W, N) -> contiguous (C, H + 2 pH, W + 2 pW, N), ``value`` around ``xw``.

    Without padding, returns ``xw`` itself if it is contiguous, else a contiguous copy.
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return np.ascontiguousarray(xw)
    c, h, w, n = xw.shape
    out = np.full((c, h + 2 * ph, w + 2 * pw, n), value, dtype=xw.dtype)
    out[:, ph:ph + h, pw:pw + w] = xw
    return out


def match_layout(grad: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``grad`` (same shape as ``like``) in ``like``'s memory order: a batch-last conv output
    flattened by ``Flatten`` gets its gradient back batch-last, so the layers before it stay
    on the fast layout. Returns ``grad`` itself when ``like`` is C-contiguous."""
    if like.flags.c_contiguous:
        return grad
    out = np.empty_like(like, dtype=grad.dtype)  # same strides order as ``like``
    out[...] = grad
    return out


def unpad_work(xw: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Inverse of ``pad_work``: the central (C, H, W, N) view of a padded (C, Hp, Wp, N)."""
    ph, pw = padding
    return xw[:, ph:xw.shape[1] - ph, pw:xw.shape[2] - pw]


def window_slice(xw: np.ndarray, i: int, j: int, out_hw: tuple[int, int],
                 stride: tuple[int, int]) -> np.ndarray:
    """The (C, Ho, Wo, N) strided view ``xw[:, i::sH, j::sW, :]`` cut to the output size:
    element (c, y, x, n) is the window (y, x)'s entry at kernel offset (i, j)."""
    ho, wo = out_hw
    sh, sw = stride
    return xw[:, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw]


def im2col(xw: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
           out: np.ndarray | None = None) -> np.ndarray:
    """Padded work array (C, Hp, Wp, N) -> columns (C*kH*kW, Ho*Wo*N).

    ``cols[(c, i, j), (y, x, n)] = xw[c, y*sH + i, x*sW + j, n]``. Rows follow a conv weight
    (C_out, C, kH, kW) reshaped to (C_out, C*kH*kW), so ``weight2d @ cols`` is the convolution
    as (C_out, Ho*Wo*N): the output's work layout. One strided copy per kernel offset.
    ``out``, if given, is a C-contiguous (C*kH*kW, Ho*Wo*N) array (or rows of one) to fill.
    """
    c, hp, wp, n = xw.shape
    kh, kw = kernel
    ho, wo = output_size(hp, kh, stride[0], 0), output_size(wp, kw, stride[1], 0)
    if out is None:
        out = np.empty((c * kh * kw, ho * wo * n), dtype=xw.dtype)
    cols = out.reshape(c, kh, kw, ho, wo, n)  # a view: rows of a C-contiguous array
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = window_slice(xw, i, j, (ho, wo), stride)
    return out


def col2im(cols: np.ndarray, padded_shape: tuple[int, int, int, int], kernel: tuple[int, int],
           stride: tuple[int, int], out: np.ndarray | None = None,
           first_row: int = 0) -> np.ndarray:
    """Adjoint of ``im2col``: columns (C*kH*kW, Ho*Wo*N) summed back into (C, Hp, Wp, N).

    Each padded pixel receives the sum of the entries of every window that covers it.
    ``cols`` may also hold only the windows of output rows ``first_row`` to
    ``first_row + r - 1`` (its Ho*Wo*N columns cut to r*Wo*N): their sums are then added into
    ``out``, a (C, Hp, Wp, N) array the caller zeroed, so a column matrix can be turned back
    block of rows by block of rows.
    """
    c, hp, wp, n = padded_shape
    kh, kw = kernel
    wo = output_size(wp, kw, stride[1], 0)
    rows = cols.shape[1] // (wo * n)                 # output rows held in cols
    cols6 = cols.reshape(c, kh, kw, rows, wo, n)
    overlap = stride[0] < kh or stride[1] < kw
    if out is None:
        out = np.zeros(padded_shape, dtype=cols.dtype)
    below = out[:, first_row * stride[0]:]           # window row 0 starts at first_row * sH
    for i in range(kh):
        for j in range(kw):
            target = window_slice(below, i, j, (rows, wo), stride)
            if overlap:
                target += cols6[:, i, j]
            else:  # windows do not overlap: every pixel is written at most once
                target[...] = cols6[:, i, j]
    return out
