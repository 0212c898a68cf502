"""Which picture formats are read (exactly PNG, JPEG, BMP and GIF, as every message says), and
float pixel values: finite ones scaled without warnings, NaN or infinite ones refused in one
line naming the file."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from barenet.data.images import FORMATS, from_bytes, load_image, to_mnist
from barenet.data.images.reading import _to_gray
from barenet.errors import ImageError

Image = pytest.importorskip("PIL.Image")

ACCEPTED = "PNG, JPEG, BMP or GIF"


def _canvas() -> np.ndarray:
    a = np.full((40, 40), 255, np.uint8)
    a[8:32, 18:22] = 0
    return a


def test_formats_are_exactly_the_ones_named():
    assert tuple(FORMATS) == ("PNG", "JPEG", "BMP", "GIF")


@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"),
                                        ("GIF", "gif")])
def test_named_formats_are_read(tmp_path, fmt, suffix):
    path = tmp_path / f"d.{suffix}"
    Image.fromarray(_canvas()).save(path, format=fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gray = load_image(path)
    assert gray.shape == (40, 40) and 0 <= gray.min() < 0.1 and gray.max() > 0.9


@pytest.mark.parametrize("fmt,suffix", [("TIFF", "tif"), ("WEBP", "webp"), ("PPM", "ppm")])
def test_other_formats_refused_naming_the_accepted_ones(tmp_path, fmt, suffix):
    path = tmp_path / f"d.{suffix}"
    try:
        Image.fromarray(_canvas()).save(path, format=fmt)
    except (KeyError, OSError):
        pytest.skip(f"this Pillow cannot write {fmt}")
    with pytest.raises(ImageError) as info:
        load_image(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and ACCEPTED in msg and "\n" not in msg
    assert fmt in msg                                   # says what the file is
    with pytest.raises(ImageError, match=ACCEPTED):
        from_bytes(path.read_bytes())


def test_float_tiff_is_refused_as_a_format_without_warnings(tmp_path):
    path = tmp_path / "big.tif"
    a = np.zeros((30, 30), np.float32)
    a[5:25, 12:18] = 3e38
    Image.fromarray(a, mode="F").save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError) as info:
            load_image(path)
    assert ACCEPTED in str(info.value) and "NaN" not in str(info.value)


def test_huge_finite_float_values_scale_without_warnings():
    a = np.zeros((30, 30), np.float32)
    a[5:25, 12:18] = 3e38
    a[0, 0] = -3e38
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gray = _to_gray(Image.fromarray(a, mode="F"))
    assert gray.dtype == np.float32 and np.isfinite(gray).all()
    assert gray[0, 0] == 0 and gray[10, 14] == 1 and gray[1, 1] == pytest.approx(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_mnist(gray)                                  # ink found, no warnings


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_float_pixel_refused_in_one_line(bad):
    a = np.zeros((30, 30), np.float32)
    a[5:25, 12:18] = 1.0
    a[3, 3] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError) as info:
            _to_gray(Image.fromarray(a, mode="F"), name="pic.tif")
    msg = str(info.value)
    assert msg.startswith("pic.tif: ") and "NaN or infinite" in msg and "\n" not in msg


def test_constant_float_picture_is_blank_not_an_error():
    gray = _to_gray(Image.fromarray(np.full((8, 8), 7.0, np.float32), mode="F"))
    assert gray.shape == (8, 8) and np.isfinite(gray).all()
