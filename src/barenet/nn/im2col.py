"""Sliding-window helpers for convolution and pooling: padding, strided windows, im2col/col2im.

A window grid over an (H, W) image with kernel (kH, kW), stride (sH, sW) and zero padding
(pH, pW) has the floor-mode output size ``Ho = (H + 2 pH - kH) // sH + 1`` (likewise ``Wo``),
as in PyTorch.

Layers see NCHW arrays, but im2col/col2im work channel-major, on (C, N, H, W): then the one
matrix product ``weight (C_out, C*kH*kW) @ cols (C*kH*kW, N*Ho*Wo)`` lands in (C_out, N, Ho, Wo)
order, and ``.transpose(1, 0, 2, 3)`` gives the NCHW result as a view, with no copy. The next
layer's ``x.transpose(1, 0, 2, 3)`` is then contiguous again; elementwise NumPy operations keep
whatever memory order their input has, so the layout flows through ReLU and pooling for free.

Everything here is vectorised: the only Python loops run over the kH*kW kernel offsets, each of
which moves one whole strided slice at once.
"""
from __future__ import annotations

from typing import Union

import numpy as np
from numpy.lib.stride_tricks import as_strided

IntPair = Union[int, tuple[int, int]]


def pair(value: IntPair, name: str, minimum: int = 1) -> tuple[int, int]:
    """``value`` as an (h, w) pair of ints >= ``minimum``; ``name`` appears in the error."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        out = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if min(out) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, got {value!r}")
    return out


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Floor-mode output length of one spatial axis: (size + 2 padding - kernel) // stride + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def pad2d(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """(..., H, W) -> contiguous (..., H + 2 pH, W + 2 pW) with ``value`` around ``x``.

    Returns ``x`` itself (no copy) when the padding is zero.
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    h, w = x.shape[-2:]
    out = np.full(x.shape[:-2] + (h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[..., ph:ph + h, pw:pw + w] = x
    return out


def unpad2d(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Inverse of ``pad2d``: the central (..., H, W) view of a padded (..., Hp, Wp)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return x[..., ph:x.shape[-2] - ph, pw:x.shape[-1] - pw]


def windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Read-only strided view (A, B, kH, kW, Ho, Wo) of every window of a padded (A, B, Hp, Wp).

    ``windows(xp)[a, b, i, j, y, x] == xp[a, b, y*sH + i, x*sW + j]``; no data is copied.
    """
    a, b, hp, wp = xp.shape
    kh, kw = kernel
    sh, sw = stride
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, shape=(a, b, kh, kw, ho, wo),
                      strides=(s0, s1, s2, s3, s2 * sh, s3 * sw), writeable=False)


def offset_slice(xp: np.ndarray, i: int, j: int, out_hw: tuple[int, int],
                 stride: tuple[int, int]) -> np.ndarray:
    """The (..., Ho, Wo) strided view ``xp[..., i::sH, j::sW]`` cut to the output size."""
    ho, wo = out_hw
    sh, sw = stride
    return xp[..., i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw]


def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Padded channel-major (C, N, Hp, Wp) -> columns (C*kH*kW, N*Ho*Wo).

    ``cols[(c, i, j), (n, y, x)] = xp[c, n, y*sH + i, x*sW + j]``. Rows follow a conv weight
    (C_out, C, kH, kW) reshaped to (C_out, C*kH*kW), so ``weight2d @ cols`` is the convolution as
    (C_out, N*Ho*Wo): channel-major again, and its NCHW view is a free transpose. ``xp`` may be
    any strided view; the copy is one strided slice per kernel offset.
    """
    c, n, hp, wp = xp.shape
    kh, kw = kernel
    ho, wo = output_size(hp, kh, stride[0], 0), output_size(wp, kw, stride[1], 0)
    cols = np.empty((c, kh, kw, n, ho, wo), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = offset_slice(xp, i, j, (ho, wo), stride)
    return cols.reshape(c * kh * kw, n * ho * wo)


def col2im(cols: np.ndarray, padded_shape: tuple[int, int, int, int], kernel: tuple[int, int],
           stride: tuple[int, int]) -> np.ndarray:
    """Adjoint of ``im2col``: columns (C*kH*kW, N*Ho*Wo) summed back into (C, N, Hp, Wp).

    Each padded pixel receives the sum of the entries of every window that covers it.
    """
    c, n, hp, wp = padded_shape
    kh, kw = kernel
    ho, wo = output_size(hp, kh, stride[0], 0), output_size(wp, kw, stride[1], 0)
    cols6 = cols.reshape(c, kh, kw, n, ho, wo)
    overlap = stride[0] < kh or stride[1] < kw
    out = np.zeros(padded_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            target = offset_slice(out, i, j, (ho, wo), stride)
            if overlap:
                target += cols6[:, i, j]
            else:  # windows do not overlap: every pixel is written at most once
                target[...] = cols6[:, i, j]
    return out
