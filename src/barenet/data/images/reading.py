"""Reading a user's picture safely: a PNG, JPEG, BMP or GIF, size checked before decoding, reduced
while read, as a float32 (H, W) gray array in [0, 1] (0 black, 1 white).

A picture larger than ``max_pixels`` is refused as a possible decompression bomb; only the
formats in ``FORMATS`` are opened (another one, TIFF or WEBP say, is refused in one line that
names it and the formats read); a bigger picture is reduced by a whole factor to at most
``WORK_SIDE`` pixels a side while it is decoded. Pillow is imported inside the functions.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from typing import Any, BinaryIO

import numpy as np

from ...errors import ImageError
from ...regular_file import open_regular

#: Largest picture accepted, in pixels (a 48-megapixel photo fits); larger is treated as a bomb.
DEFAULT_MAX_PIXELS = 50_000_000
#: Formats read, exactly those every message names; others (TIFF, WEBP, EPS, PDF, ...) are
#: refused rather than handed to decoders nobody tests here or to external programs.
FORMATS = ("PNG", "JPEG", "BMP", "GIF")
#: How messages name them
ACCEPTED = "PNG, JPEG, BMP or GIF"
#: Signatures of picture formats that are refused, to say what such a file is
_OTHER_SIGNATURES = ((b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"RIFF", "WEBP"),
                     (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
                     (b"\xff\x4f\xff\x51", "JPEG 2000"), (b"\x00\x00\x01\x00", "ICO"),
                     (b"8BPS", "PSD"))

#: Longest side a picture is reduced to before the per-pixel work (the digit ends up 20 pixels).
WORK_SIDE = 1024


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
            raise ImageError(f"{name}: empty file, expected a picture ({ACCEPTED})")
        return _decode(f, name, max_pixels, max_side)


def from_bytes(data: bytes, name: str = "upload", max_pixels: int = DEFAULT_MAX_PIXELS,
               max_side: int | None = WORK_SIDE) -> np.ndarray:
    """Decode an encoded picture (the bytes of a PNG, JPEG, BMP or GIF file) into float32
    (H, W) in [0, 1].

    ``name`` is used in error messages. Same rules as ``load_image``.
    """
    if not data:
        raise ImageError(f"{name}: empty file, expected a picture ({ACCEPTED})")
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
                gray = _read_reduced(im, max_side, name)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(f"{name}: cannot read: permission denied") from None
    except Image.DecompressionBombError:
        raise ImageError(bomb) from None
    except Image.UnidentifiedImageError:
        other = _refused_format(source)
        if other:
            raise ImageError(f"{name}: a {other} picture, not read: save it as {ACCEPTED}") \
                from None
        raise ImageError(f"{name}: not a picture (expected {ACCEPTED})") from None
    except MemoryError:
        raise ImageError(bomb) from None
    except Exception as exc:  # Pillow's decoders raise many types on corrupt data
        raise ImageError(f"{name}: corrupt or truncated picture ({exc})") from None
    return gray


def _refused_format(source: BinaryIO) -> str | None:
    """The name of a known format that is not read, from the first bytes; None otherwise."""
    try:
        source.seek(0)
        head = source.read(16)
    except (OSError, ValueError):
        return None
    if head.startswith(b"RIFF") and head[8:12] != b"WEBP":
        return None
    if re.match(rb"P[1-6]\s", head):
        return "PPM"
    return next((fmt for sig, fmt in _OTHER_SIGNATURES if head.startswith(sig)), None)


_ORIENT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
           6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}  # EXIF orientation -> transpose


def _read_reduced(im: Any, max_side: int | None, name: str = "picture") -> np.ndarray:
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
    return _to_gray(im, source_mode, name)


def _to_gray(im: Any, source_mode: str | None = None, name: str = "picture") -> np.ndarray:
    """A loaded PIL image -> float32 (H, W) luminance in [0, 1], alpha composited on white.
    ``source_mode``: the mode it was decoded in, if it was converted since (16-bit). Integer
    and float pixels other than 16-bit are stretched from their smallest to their largest value
    (in float64, so no finite float32 value overflows); a NaN or infinite pixel is refused
    (ImageError naming ``name``)."""
    from PIL import Image

    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        if (source_mode or mode).startswith("I;16"):
            return np.asarray(im, dtype=np.float32) / np.float32(65535.0)
        arr = np.asarray(im, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ImageError(f"{name}: has NaN or infinite pixel values, expected finite "
                             "numbers")
        lo, hi = float(arr.min()), float(arr.max())
        if not hi > lo:
            return np.zeros(arr.shape, np.float32)
        return np.clip((arr - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    gray = im.convert("L")
    return np.asarray(gray, dtype=np.float32) / np.float32(255.0)
