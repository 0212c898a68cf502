"""Test-time augmentation: the views of a picture a prediction is averaged over.

View 0 is the picture itself; the others move it by one pixel, in this fixed order of
(dy, dx), dy counting rows down and dx columns right::

    (0, 0)  original        (0, +1) right      (0, -1) left      (+1, 0) down     (-1, 0) up
    (+1, +1) down-right     (+1, -1) down-left (-1, +1) up-right (-1, -1) up-left

``--tta N`` takes the first N views: 1 is the picture alone, 5 the picture and its four
neighbours, 9 all of them. Pixels moved in from outside the frame are 0, the background of an
MNIST-style picture (before normalisation).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: (dy, dx) of each view, in the order ``--tta N`` takes them.
SHIFTS: tuple[tuple[int, int], ...] = (
    (0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))
#: The most views ``--tta`` takes.
MAX_TTA = len(SHIFTS)


def tta_shifts(n: int) -> tuple[tuple[int, int], ...]:
    """The first ``n`` views of ``SHIFTS``; ConfigError unless 1 <= n <= MAX_TTA."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_TTA:
        raise ConfigError(f"--tta must be an integer in 1..{MAX_TTA} (the picture and up to "
                          f"{MAX_TTA - 1} one-pixel shifts), got {n!r}")
    return SHIFTS[:int(n)]


def shift_images(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` (..., H, W) moved ``dy`` rows down and ``dx`` columns right, zero-filled:
    out[..., y, x] = images[..., y - dy, x - dx], 0 where that falls outside. Same dtype;
    a new array (the input is never changed)."""
    out = np.zeros_like(images)
    h, w = images.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


__all__ = ["MAX_TTA", "SHIFTS", "shift_images", "tta_shifts"]
