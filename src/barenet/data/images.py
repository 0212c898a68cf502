"""MNIST-style preprocessing of a user's picture: read it safely, then make it look like MNIST.

``load_image``/``from_bytes`` turn a PNG/JPEG/BMP/GIF (any size, RGB, RGBA, grayscale or palette)
into a float32 (H, W) gray array in [0, 1]; ``to_mnist`` turns that into a uint8 (28, 28) digit the
way the original MNIST was prepared: light ink on black, the ink's bounding box scaled to fit a
20x20 box keeping its aspect ratio, placed so its centre of mass sits at pixel (14, 14).
Pillow is imported inside the functions, so importing this module needs only NumPy.

The digit ends up 20 pixels tall, so a bigger picture is first reduced (averaging blocks of
pixels, in Pillow, while it is read) to at most ``WORK_SIDE`` pixels on its longer side before
any per-pixel work: `barenet predict` on a 60 KB PNG of 7000x7000 pixels with two thin lines
went from 21 s and 1.25 GB to 2 s and 100 MB (most of it Python and NumPy starting up).
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ImageError
from ..regular_file import open_regular

#: Largest picture accepted, in pixels (a 48-megapixel photo fits); larger is treated as a bomb.
DEFAULT_MAX_PIXELS = 50_000_000
#: Formats read; others (EPS, PDF, ...) are refused rather than handed to external programs.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")

#: Longest side a picture is reduced to before the per-pixel work (the digit ends up 20 pixels).
WORK_SIDE = 1024

_FIT = 20        # the ink's longer side after scaling, as in MNIST
_SIZE = 28       # output side
_CENTRE = 14.0   # target centre of mass (row, col), in pixel-index coordinates
_MIN_CONTRAST = 0.1  # ink must differ from the background by this much (0..1) to count
_LEVEL = 0.2     # after normalising, values below this fraction of the ink are background


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS,
               max_side: int | None = WORK_SIDE) -> np.ndarray:
    """Read a picture file as float32 (H, W) gray in [0, 1] (0 black, 1 white).

    Transparent pixels are composited on white; EXIF rotation is applied; an animated GIF gives
    its first frame. A picture longer than ``max_side`` pixels is reduced by a whole factor
    (block averages) so that H, W <= ``max_side`` (None: never). Raises ImageError naming the
    file when it is missing, unreadable, not an image, or has more than ``max_pixels`` pixels
    (a decompression bomb).
    """
    name = str(path)
    f, size = open_regular(path, "a picture file", ImageError, missing="no such file")
    with f:
        if size == 0:
            raise ImageError(f"{name}: empty file, expected a picture (PNG, JPEG, BMP or GIF)")
        return _decode(f, name, max_pixels, max_side)


def from_bytes(data: bytes, name: str = "upload", max_pixels: int = DEFAULT_MAX_PIXELS,
               max_side: int | None = WORK_SIDE) -> np.ndarray:
    """Decode an encoded picture (the bytes of a PNG/JPEG/... file) into float32 (H, W) in [0, 1].

    ``name`` is used in error messages. Same rules as ``load_image``.
    """
    if not data:
        raise ImageError(f"{name}: empty file, expected a picture (PNG, JPEG, BMP or GIF)")
    return _decode(io.BytesIO(data), name, max_pixels, max_side)


def _decode(source: BinaryIO, name: str, max_pixels: int,
            max_side: int | None) -> np.ndarray:
    """Open, check the size before decoding, decode, reduce and convert to gray; errors ->
    ImageError."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is part of the cli extra
        raise ImageError('reading pictures needs Pillow: pip install "barenet[cli]"') from None
    bomb = (f"{name}: picture too large (more than {max_pixels:,} pixels): "
            "refusing a possible decompression bomb")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source, formats=FORMATS) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageError(bomb + f", got {w}x{h}")
                if w == 0 or h == 0:
                    raise ImageError(f"{name}: picture has no pixels ({w}x{h})")
                gray = _read_reduced(im, max_side)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(f"{name}: cannot read: permission denied") from None
    except Image.DecompressionBombError:
        raise ImageError(bomb) from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{name}: not a picture (expected PNG, JPEG, BMP or GIF)") from None
    except MemoryError:
        raise ImageError(bomb) from None
    except Exception as exc:  # Pillow's decoders raise many types on corrupt data
        raise ImageError(f"{name}: corrupt or truncated picture ({exc})") from None
    return gray


_ORIENT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
           6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}  # EXIF orientation -> transpose


def _read_reduced(im: Any, max_side: int | None) -> np.ndarray:
    """Decode an opened picture, reduced by a whole factor to fit ``max_side`` (a JPEG already
    while decoding), turned upright per its EXIF orientation, as gray."""
    from PIL import Image

    def factor() -> int:
        return 1 if max_side is None else -(-max(im.size) // max_side)

    if factor() > 1 and im.format == "JPEG":
        im.draft(None, (im.size[0] // factor(), im.size[1] // factor()))  # DCT scaling
    orientation = im.getexif().get(0x0112)
    im.load()
    source_mode = im.mode
    if factor() > 1:
        if im.mode in ("P", "PA"):  # reduce averages values, not palette indices
            im = im.convert("LA" if im.mode == "PA" or "transparency" in im.info else "L")
        elif im.mode == "1" or im.mode.startswith("I;16"):
            im = im.convert("L" if im.mode == "1" else "I")
        im = im.reduce(factor())  # block means; alpha is premultiplied
    if orientation in _ORIENT:
        im = im.transpose(getattr(Image.Transpose, _ORIENT[orientation]))
    return _to_gray(im, source_mode)


def _to_gray(im: Any, source_mode: str | None = None) -> np.ndarray:
    """A loaded PIL image -> float32 (H, W) luminance in [0, 1], alpha composited on white.
    ``source_mode``: the mode it was decoded in, if it was converted since (16-bit)."""
    from PIL import Image

    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        if (source_mode or mode).startswith("I;16"):
            return arr / np.float32(65535.0)
        return ((arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)).astype(np.float32)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    gray = im.convert("L")
    return np.asarray(gray, dtype=np.float32) / np.float32(255.0)


def to_mnist(gray: np.ndarray, fit: int = _FIT, by_mass: bool = True) -> np.ndarray:
    """Make a gray picture look like an MNIST digit: uint8 (28, 28), light ink on black.

    Steps: reduce a picture longer than ``WORK_SIDE`` (``shrink``); invert when the background
    (median of the border pixels) is light; subtract the background and stretch so the ink
    spans [0, 1], dropping faint noise; crop to the ink's bounding box; thicken strokes that
    would vanish when scaled down; scale so the longer side is ``fit`` (20) pixels keeping the
    aspect ratio (antialiased); paste into 28x28 so the centre of mass is at (14, 14)
    (``by_mass=False``: centre the box instead, the way Fashion-MNIST was made, with
    ``fit=28``). Raises ImageError("... no ink") when nothing stands out from the background.
    """
    if not 1 <= fit <= _SIZE:
        raise ValueError(f"to_mnist: fit must be in 1..{_SIZE}, got {fit}")
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
    return _place(patch, by_mass)


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


def _place(patch: np.ndarray, by_mass: bool) -> np.ndarray:
    """Paste (h, w) <= (28, 28) into a black 28x28 so its centre of mass lands at (14, 14)
    (or, without ``by_mass``, so the box is centred), staying inside the frame."""
    h, w = patch.shape
    if by_mass:
        mass = float(patch.sum())
        cy = float((patch.sum(axis=1) * np.arange(h)).sum()) / mass
        cx = float((patch.sum(axis=0) * np.arange(w)).sum()) / mass
    else:
        cy, cx = (h - 1) / 2 + 0.5, (w - 1) / 2 + 0.5  # box centre on the 28x28 centre line
    top = int(np.clip(np.round(_CENTRE - cy), 0, _SIZE - h))
    left = int(np.clip(np.round(_CENTRE - cx), 0, _SIZE - w))
    out = np.zeros((_SIZE, _SIZE), dtype=np.float32)
    out[top:top + h, left:left + w] = patch
    return np.round(out * 255.0).astype(np.uint8)

