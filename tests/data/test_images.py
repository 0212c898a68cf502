"""MNIST-style picture preprocessing: reading any picture safely, then to_mnist's geometry."""
from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from barenet.data.images import from_bytes, load_image, to_mnist  # noqa: E402
from barenet.errors import ImageError  # noqa: E402


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _digit_canvas(width: int = 300, height: int = 200, dark_on_light: bool = True) -> np.ndarray:
    """A thick '7'-ish stroke off-centre on a canvas, uint8, 0 = black."""
    a = np.zeros((height, width), dtype=np.uint8)
    a[40:52, 170:250] = 255          # top bar
    for i in range(100):             # diagonal down-left
        a[52 + i, 240 - i // 2 - 6:240 - i // 2 + 6] = 255
    return 255 - a if dark_on_light else a


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming width x height pixels with almost no data (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("fmt,mode", [("PNG", "L"), ("PNG", "RGB"), ("PNG", "RGBA"),
                                      ("PNG", "P"), ("JPEG", "RGB"), ("JPEG", "L"),
                                      ("BMP", "RGB"), ("GIF", "P")])
def test_formats_and_modes_read_as_gray_in_unit_range(tmp_path, fmt, mode):
    im = Image.fromarray(_digit_canvas()).convert(mode)
    path = tmp_path / f"d.{fmt.lower()}"
    im.save(path, fmt)
    gray = load_image(path)
    assert gray.dtype == np.float32 and gray.shape == (200, 300)
    assert 0.0 <= gray.min() and gray.max() <= 1.0
    assert gray[0, 0] > 0.9 and gray[45, 200] < 0.1  # white paper, black ink


def test_transparent_background_is_composited_on_white():
    rgba = np.zeros((50, 60, 4), dtype=np.uint8)     # fully transparent black ...
    rgba[20:30, 10:50] = (0, 0, 0, 255)              # ... with an opaque black bar
    gray = from_bytes(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert gray[0, 0] == pytest.approx(1.0) and gray[25, 30] == pytest.approx(0.0)
    digit = to_mnist(gray)
    assert digit.max() == 255 and digit[0, 0] == 0


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_to_mnist_geometry_matches_mnist(dark_on_light):
    digit = to_mnist(_digit_canvas(dark_on_light=dark_on_light).astype(np.float32) / 255)
    assert digit.dtype == np.uint8 and digit.shape == (28, 28)
    assert digit.max() == 255 and np.median(np.concatenate([digit[0], digit[-1]])) == 0
    ys, xs = np.nonzero(digit)
    assert max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) <= 21  # fits the 20x20 box
    m = digit.astype(np.float64)
    cy = (m.sum(1) * np.arange(28)).sum() / m.sum()
    cx = (m.sum(0) * np.arange(28)).sum() / m.sum()
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def test_aspect_ratio_is_kept_for_a_thin_one():
    a = np.ones((400, 400), dtype=np.float32)
    a[50:350, 190:215] = 0.0                          # a tall thin '1': 300 x 25
    digit = to_mnist(a)
    ys, xs = np.nonzero(digit > 64)
    assert ys.max() - ys.min() + 1 == 20
    assert 1 <= xs.max() - xs.min() + 1 <= 4


def test_thin_strokes_are_thickened_so_they_survive_scaling():
    a = np.ones((1000, 1000), dtype=np.float32)
    a[100:900, 499:501] = 0.0                         # a 2-pixel line, 800 long
    a[100:102, 300:700] = 0.0
    digit = to_mnist(a)
    assert (digit > 128).sum() >= 20


def test_real_mnist_digit_comes_back_nearly_unchanged():
    from barenet.data.datasets import load_dataset

    test = load_dataset("mnist", "test")
    for i in range(20):
        x = test.images[i]
        big = np.asarray(Image.fromarray(255 - x).resize((112, 112), Image.Resampling.BICUBIC))
        canvas = np.full((200, 300), 255, dtype=np.uint8)
        canvas[30:142, 150:262] = big
        out = to_mnist(canvas.astype(np.float32) / 255).astype(float)
        # MNIST centres by mass too, but rounding may differ by a pixel: allow a 1-pixel shift
        diff = min(np.abs(np.roll(out, (dy, dx), axis=(0, 1)) - x).mean()
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1))
        assert diff < 12, i


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5])
def test_blank_picture_has_no_ink(value):
    with pytest.raises(ImageError, match="no ink"):
        to_mnist(np.full((40, 50), value, dtype=np.float32))


def test_faint_noise_is_not_ink():
    rng = np.random.default_rng(0)
    with pytest.raises(ImageError, match="no ink"):
        to_mnist((0.95 + 0.04 * rng.random((60, 60))).astype(np.float32))


def test_bad_arrays_are_refused():
    with pytest.raises(ImageError, match="2-D"):
        to_mnist(np.zeros((3, 4, 5), dtype=np.float32))
    with pytest.raises(ImageError, match="NaN"):
        to_mnist(np.full((4, 4), np.nan, dtype=np.float32))


@pytest.mark.parametrize("width,height", [(20000, 20000), (9000, 9000)])
def test_decompression_bomb_is_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(width, height))
    with pytest.raises(ImageError, match=r"bomb\.png.*decompression bomb"):
        load_image(path)


def test_max_pixels_is_configurable():
    data = _encode(Image.new("L", (100, 100), 255), "PNG")
    assert from_bytes(data, max_pixels=10_000).shape == (100, 100)
    with pytest.raises(ImageError, match="upload: picture too large"):
        from_bytes(data, max_pixels=9_999)


@pytest.mark.parametrize("content,match", [
    (b"", "empty file"), (b"hello, not a picture", "not a picture"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n", "not a picture")])
def test_not_a_picture(tmp_path, content, match):
    path = tmp_path / "notes.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=f"notes.png: .*{match}"):
        load_image(path)


def test_truncated_picture_and_missing_file(tmp_path):
    data = _encode(Image.fromarray(_digit_canvas()), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut.png: corrupt or truncated"):
        load_image(path)
    with pytest.raises(ImageError, match="nope.png: no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(0, 200), st.sampled_from(["PNG", "GIF", "BMP"]))
def test_corrupted_bytes_decode_or_raise_image_error(junk, cut, fmt):
    small = Image.fromarray(_digit_canvas()).resize((60, 40))
    good = _encode(small.convert("P" if fmt == "GIF" else "L"), fmt)
    for data in (junk, good[:cut] + junk, good[:cut] + junk + good[cut + len(junk):]):
        try:
            gray = from_bytes(data, name="x")
        except ImageError as exc:
            assert str(exc).startswith("x: ")
        else:
            assert gray.ndim == 2 and gray.dtype == np.float32


def test_fashion_style_fills_the_frame_and_centres_the_box():
    a = np.ones((100, 60), dtype=np.float32)
    a[10:90, 10:50] = 0.0                       # an 80 x 40 dark item on white
    ys, xs = np.nonzero(to_mnist(a, fit=28, by_mass=False))
    assert (ys.min(), ys.max()) == (0, 27)
    assert xs.min() + xs.max() == 27            # symmetric about the centre line
    with pytest.raises(ValueError, match="fit"):
        to_mnist(a, fit=40)


def test_unevenly_lit_paper_is_not_ink():
    """A lamp's gradient across the page (0.55 .. 1.0) with a dark stroke in the middle."""
    h, w = 300, 400
    page = np.linspace(0.55, 1.0, w, dtype=np.float32)[None, :].repeat(h, 0)
    page[100:200, 190:210] = 0.1
    digit = to_mnist(page)
    ys, xs = np.nonzero(digit > 30)
    assert ys.max() - ys.min() + 1 >= 19 and xs.max() - xs.min() + 1 <= 6  # a tall thin stroke


def _thin_lines_png(side: int, width: int = 2) -> bytes:
    """A ``side`` x ``side`` white PNG with a thin '7' (a bar and a stem), a few KB on disk."""
    from PIL import ImageDraw

    im = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(im)
    draw.line([(side * 0.3, side * 0.15), (side * 0.7, side * 0.15)], fill=0, width=width)
    draw.line([(side * 0.7, side * 0.15), (side * 0.45, side * 0.85)], fill=0, width=width)
    return _encode(im, "PNG")


def _peak_numpy_mb(fn, *args) -> tuple[object, float]:
    """Run ``fn(*args)``; return its result and the peak memory NumPy allocated meanwhile."""
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn(*args)
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_big_picture_is_downscaled_before_any_per_pixel_work():
    """A 12 KB PNG of 3000x3000 pixels must not cost hundreds of MB: the picture is reduced to
    at most WORK_SIDE on its longer side while it is decoded, before the float work."""
    from barenet.data.images import WORK_SIDE

    data = _thin_lines_png(3000, width=6)
    gray, peak = _peak_numpy_mb(from_bytes, data)
    assert max(gray.shape) <= WORK_SIDE and gray.shape[0] == gray.shape[1]
    assert peak < 12, f"decoding took {peak:.0f} MB"
    digit, peak = _peak_numpy_mb(to_mnist, gray)
    assert peak < 40, f"to_mnist took {peak:.0f} MB"
    small = to_mnist(from_bytes(_thin_lines_png(600, width=2)))
    assert (digit > 128).sum() >= 20
    diff = min(np.abs(np.roll(digit.astype(float), (dy, dx), axis=(0, 1)) - small).mean()
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    assert diff < 12  # the same drawing at a fifth of the size gives the same digit


def test_to_mnist_downscales_a_huge_array_itself():
    a = np.ones((4000, 3000), dtype=np.float32)
    a[600:3400, 1499:1502] = 0.0                       # a 3-pixel line, 2800 long
    digit, peak = _peak_numpy_mb(to_mnist, a)
    assert peak < 40, f"to_mnist took {peak:.0f} MB on a {a.nbytes / 2**20:.0f} MB array"
    ys, xs = np.nonzero(digit > 64)
    assert ys.max() - ys.min() + 1 == 20 and xs.max() - xs.min() + 1 <= 4


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "I;16", "1"])
def test_reduced_pictures_keep_their_colours_and_transparency(mode):
    """Reduction happens before the conversion to gray: alpha is still composited on white,
    16-bit and 1-bit pictures still read as black ink on white paper."""
    from barenet.data.images import WORK_SIDE

    side = 2 * WORK_SIDE + 10
    a = np.full((side, side), 255, dtype=np.uint8)
    a[side // 4: 3 * side // 4, side // 2 - 40: side // 2 + 40] = 0
    if mode in ("RGBA", "LA"):
        im = Image.fromarray(np.stack([a, a, a, 255 - a], -1), "RGBA").convert(mode)
    elif mode == "I;16":
        im = Image.fromarray(a.astype(np.uint16) * 257)
    else:
        im = Image.fromarray(a).convert(mode)
    gray = from_bytes(_encode(im, "PNG" if mode != "P" else "GIF"))
    assert max(gray.shape) <= WORK_SIDE
    assert gray[5, 5] == pytest.approx(1.0, abs=0.02)
    assert gray[gray.shape[0] // 2, gray.shape[1] // 2] == pytest.approx(0.0, abs=0.02)


def test_exif_rotation_is_applied_to_a_reduced_photo():
    from barenet.data.images import WORK_SIDE

    a = np.full((WORK_SIDE * 2, WORK_SIDE * 3), 255, dtype=np.uint8)
    a[:200, :200] = 0                                  # ink in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6                                   # "rotate 90 degrees clockwise to view"
    gray = from_bytes(_encode(Image.fromarray(a), "JPEG", exif=exif.tobytes(), quality=95))
    assert gray.shape[0] > gray.shape[1]               # now portrait
    assert gray[5, -5] < 0.2 and gray[5, 5] > 0.8      # the corner went to the top right


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)       # nothing ever writes: opening it for reading would wait forever
    with pytest.raises(ImageError, match="digit.png: not a regular file"):
        load_image(fifo)
