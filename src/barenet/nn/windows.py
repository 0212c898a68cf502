"""Sliding windows over NCHW images, written plainly: the textbook half of conv and pooling.

A window grid over an (H, W) image with kernel (kH, kW), stride (sH, sW) and padding (pH, pW)
has the floor-mode output size ``Ho = (H + 2 pH - kH) // sH + 1`` (likewise ``Wo``), as in
PyTorch. ``windows`` shows every window as a view, ``add_windows`` is its adjoint (each pixel
receives the sum over the windows that cover it), and ``im2col``/``col2im`` flatten the windows
into the rows of a matrix, so that a convolution becomes one matrix product.

The fast versions of the same operations, on a batch-last memory layout, are in
``kernels/batch_last.py``; ``tests/nn/test_kernels.py`` checks that both give equal results.
"""
from __future__ import annotations

from typing import Union

import numpy as np

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


def pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H + 2 pH, W + 2 pW), with ``value`` around the image."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def unpad(xp: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Inverse of ``pad``: the central (N, C, H, W) view of a padded array."""
    ph, pw = padding
    return xp[:, :, ph:xp.shape[2] - ph, pw:xp.shape[3] - pw]


def windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """A read-only view (N, C, Ho, Wo, kH, kW) of every window of a padded (N, C, Hp, Wp):
    ``out[n, c, y, x, i, j] = xp[n, c, y*sH + i, x*sW + j]``."""
    view = np.lib.stride_tricks.sliding_window_view(xp, kernel, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1]]


def add_windows(dwin: np.ndarray, padded_shape: tuple[int, ...],
                stride: tuple[int, int]) -> np.ndarray:
    """Adjoint of ``windows``: (N, C, Ho, Wo, kH, kW) -> (N, C, Hp, Wp), each pixel the sum of
    the window entries that cover it. One loop step per kernel offset (i, j)."""
    _, _, ho, wo, kh, kw = dwin.shape
    sh, sw = stride
    dxp = np.zeros(padded_shape, dtype=dwin.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += dwin[..., i, j]
    return dxp


def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Padded (N, C, Hp, Wp) -> cols (N*Ho*Wo, C*kH*kW): one row per window, its C*kH*kW
    pixels in the order of a conv weight (C_out, C, kH, kW) reshaped to (C_out, C*kH*kW)."""
    win = windows(xp, kernel, stride)                     # (N, C, Ho, Wo, kH, kW)
    n, c, ho, wo, kh, kw = win.shape
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)


def col2im(cols: np.ndarray, padded_shape: tuple[int, ...], kernel: tuple[int, int],
           stride: tuple[int, int]) -> np.ndarray:
    """Adjoint of ``im2col``: cols (N*Ho*Wo, C*kH*kW) summed back into (N, C, Hp, Wp)."""
    n, c, hp, wp = padded_shape
    kh, kw = kernel
    ho, wo = output_size(hp, kh, stride[0], 0), output_size(wp, kw, stride[1], 0)
    dwin = cols.reshape(n, ho, wo, c, kh, kw).transpose(0, 3, 1, 2, 4, 5)
    return add_windows(dwin, padded_shape, stride)


def window_output(shape: tuple[int, ...], config: dict, channels: int | None = None
                  ) -> tuple[int, ...]:
    """The per-sample output (C, Ho, Wo) of a convolution or pooling with ``config``'s
    kernel_size, stride and padding (``channels``: C_out, default the input's) for a per-sample
    input (C, H, W); ShapeMismatch saying what it expects if it does not fit."""
    from .layer_record import ShapeMismatch

    want_c = config.get("in_channels")
    if len(shape) != 3 or want_c not in (None, shape[0]):
        raise ShapeMismatch(f"(N, {want_c or 'C'}, H, W)")
    hw = tuple(output_size(size, k, s, p) for size, k, s, p in
               zip(shape[1:], config["kernel_size"], config["stride"], config["padding"]))
    if min(hw) < 1:
        kernel = tuple(config["kernel_size"])
        raise ShapeMismatch(f"(N, {want_c or 'C'}, H, W) with H, W >= {kernel}")
    return (shape[0] if channels is None else channels, *hw)


def window_sizes(shape: tuple[int, ...], config: dict) -> tuple[int, int, int]:
    """(padded input values, output positions Ho*Wo, window size C*kH*kW) of a convolution or
    pooling with ``config`` on a per-sample input (C, H, W)."""
    c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = config["kernel_size"], config["stride"], config["padding"]
    hp, wp = h + 2 * ph, w + 2 * pw
    return c * hp * wp, ((hp - kh) // sh + 1) * ((wp - kw) // sw + 1), c * kh * kw
