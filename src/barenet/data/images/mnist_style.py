"""Making a gray picture look like an MNIST digit: light ink on black, the ink's bounding box
scaled to fit 20x20 keeping its aspect ratio, its centre of mass at pixel (14, 14). NumPy only.
"""
from __future__ import annotations

import numpy as np

from ...errors import ImageError
from .reading import WORK_SIDE

_FIT = 20        # the ink's longer side after scaling, as in MNIST
_SIZE = 28       # output side
_CENTRE = 14.0   # target centre of mass (row, col), in pixel-index coordinates
_MIN_CONTRAST = 0.1  # ink must differ from the background by this much (0..1) to count
_LEVEL = 0.2     # after normalising, values below this fraction of the ink are background


def to_mnist(gray: np.ndarray, fit: int = _FIT, by_mass: bool = True,
             size: int = _SIZE) -> np.ndarray:
    """Make a gray picture look like an MNIST digit: uint8 (28, 28), light ink on black.

    Steps: reduce a picture longer than ``WORK_SIDE`` (``shrink``); invert when the background
    (median of the border pixels) is light; subtract the background and stretch so the ink
    spans [0, 1], dropping faint noise; crop to the ink's bounding box; thicken strokes that
    would vanish when scaled down; scale so the longer side is ``fit`` (20) pixels keeping the
    aspect ratio (antialiased); paste into 28x28 so the centre of mass is at (14, 14)
    (``by_mass=False``: centre the box instead, the way Fashion-MNIST was made, with
    ``fit=28``). Raises ImageError("... no ink") when nothing stands out from the background.
    ``size``: the side of the output, (size, size), centred at (size/2, size/2) (default 28).
    """
    if not 1 <= fit <= size:
        raise ValueError(f"to_mnist: fit must be in 1..{size}, got {fit}")
    g = np.asarray(gray)
    if g.ndim != 2 or g.size == 0:
        raise ImageError(f"picture: expected a 2-D gray array, got shape {g.shape}")
    g = shrink(g, WORK_SIDE)
    if not np.all(np.isfinite(g)):
        raise ImageError("picture: contains NaN or infinite values")
    if float(np.median(_border(g))) > 0.5:  # dark ink on light paper: make the ink light
        g = 1.0 - g
    ink = g - _background(g)
    peak = float(ink.max())
    if peak < _MIN_CONTRAST:
        raise ImageError("picture: no ink (nothing stands out from the background)")
    ink = np.clip((ink / peak - _LEVEL) / (1.0 - _LEVEL), 0.0, 1.0).astype(np.float32)
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = ink.shape
    scale = fit / max(h, w)
    ink = _thicken(ink, scale)
    new_h = max(1, int(round(h * scale)))
    new_w = max(1, int(round(w * scale)))
    patch = _resize(ink, new_h, new_w)
    if patch.max() <= 0:
        raise ImageError(f"picture: no ink left after scaling to {fit}x{fit}")
    patch /= patch.max()
    return _place(patch, by_mass, size)


def to_style(gray: np.ndarray, style: str = "digit", size: int = _SIZE) -> np.ndarray:
    """A gray picture made to look like a dataset's images, uint8 (size, size), light on black:
    ``style`` "digit" as MNIST (ink fitted into 20/28 of the side, centred by mass) or
    "clothing" as Fashion-MNIST (filling the frame, its box centred). At size 28, "digit" is
    ``to_mnist(gray)`` and "clothing" ``to_mnist(gray, fit=28, by_mass=False)``."""
    if style == "clothing":
        return to_mnist(gray, fit=size, by_mass=False, size=size)
    if style != "digit":
        raise ValueError(f"to_style: style must be 'digit' or 'clothing', got {style!r}")
    return to_mnist(gray, fit=max(1, round(_FIT * size / _SIZE)), size=size)


def shrink(a: np.ndarray, side: int) -> np.ndarray:
    """(H, W) -> float32 block means over f x f pixels, f the smallest whole factor that brings
    both sides to at most ``side`` (the last H % f rows and W % f columns are dropped)."""
    h, w = a.shape
    f = -(-max(h, w) // side)
    if f <= 1:
        return np.asarray(a, dtype=np.float32)
    fy, fx = min(f, h), min(f, w)
    blocks = a[:h // fy * fy, :w // fx * fx].reshape(h // fy, fy, w // fx, fx)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def _border(a: np.ndarray) -> np.ndarray:
    """The pixels on the edge of a 2-D array, as a 1-D array."""
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _background(g: np.ndarray) -> np.ndarray:
    """The paper's brightness under the ink, (H, W): a plane a + b x + c y fitted to the border
    pixels (an evenly lit page gives its median, a lamp's gradient is followed), refitted
    without outliers such as ink touching the edge."""
    h, w = g.shape
    values = _border(g).astype(np.float64)
    if h < 3 or w < 3:
        return np.full_like(g, np.median(values))
    x = np.arange(w, dtype=np.float64) / w
    y = np.arange(h, dtype=np.float64) / h
    xs = _border(np.broadcast_to(x, (h, w)))
    ys = _border(np.broadcast_to(y[:, None], (h, w)))
    coords = np.stack([np.ones_like(xs), xs, ys], axis=1)
    keep = np.abs(values - np.median(values)) <= 3 * _mad(values) + 0.02
    coef = np.array([np.median(values), 0.0, 0.0])
    for _ in range(2):
        if keep.sum() >= 3:
            coef = np.linalg.lstsq(coords[keep], values[keep], rcond=None)[0]
        resid = values - coords @ coef
        keep = np.abs(resid) <= 3 * _mad(resid[keep]) + 0.02
    plane = coef[0] + coef[1] * x[None, :] + coef[2] * y[:, None]
    return plane.astype(np.float32)


def _mad(v: np.ndarray) -> float:
    """Median absolute deviation (a spread that ignores outliers)."""
    return float(np.median(np.abs(v - np.median(v)))) if v.size else 0.0


def _thicken(ink: np.ndarray, scale: float, target: float = 1.5) -> np.ndarray:
    """Dilate (grey max filter) strokes that would be thinner than ``target`` output pixels.

    Stroke width is estimated as 2 * area / perimeter of the ink mask (exact for long strokes).
    """
    mask = ink > 0.5
    area = int(mask.sum())
    if area == 0 or scale >= 1.0:
        return ink
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    perimeter = max(1, area - int(inner.sum()))
    width = 2.0 * area / perimeter
    grow = int(np.ceil((target / scale - width) / 2.0))
    if grow <= 0:
        return ink
    grow = min(grow, max(ink.shape) // 4 + 1)
    out = np.pad(ink, grow)
    for axis in (0, 1):  # separable max filter of size 2*grow+1
        acc = out.copy()
        n = out.shape[axis]
        for s in range(1, grow + 1):
            fwd = [slice(None)] * 2
            bwd = [slice(None)] * 2
            fwd[axis], bwd[axis] = slice(s, n), slice(0, n - s)
            np.maximum(acc[tuple(bwd)], out[tuple(fwd)], out=acc[tuple(bwd)])
            np.maximum(acc[tuple(fwd)], out[tuple(bwd)], out=acc[tuple(fwd)])
        out = acc
    return out[grow:-grow, grow:-grow]


def _resize(ink: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
    """Antialiased resize of a float (H, W) array to (new_h, new_w), clipped to [0, 1]."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32), mode="F")
    out = im.resize((new_w, new_h), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)


def _place(patch: np.ndarray, by_mass: bool, size: int = _SIZE) -> np.ndarray:
    """Paste (h, w) <= (size, size) into a black size x size so its centre of mass lands at
    (size/2, size/2), (14, 14) for 28 (or, without ``by_mass``, so the box is centred),
    staying inside the frame."""
    h, w = patch.shape
    centre = size / 2
    if by_mass:
        mass = float(patch.sum())
        cy = float((patch.sum(axis=1) * np.arange(h)).sum()) / mass
        cx = float((patch.sum(axis=0) * np.arange(w)).sum()) / mass
    else:
        cy, cx = (h - 1) / 2 + 0.5, (w - 1) / 2 + 0.5  # box centre on the 28x28 centre line
    top = int(np.clip(np.round(centre - cy), 0, size - h))
    left = int(np.clip(np.round(centre - cx), 0, size - w))
    out = np.zeros((size, size), dtype=np.float32)
    out[top:top + h, left:left + w] = patch
    return np.round(out * 255.0).astype(np.uint8)
