"""IDX reading and writing: round trips, every kind of corruption, and fuzzing."""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barenet.data import idx
from barenet.data.idx import (
    check_same_count,
    read_idx,
    read_idx_with_sha256,
    read_images,
    read_labels,
    write_idx,
)
from barenet.errors import DataError, IDXError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
SHAPES = [(5,), (3, 4), (2, 3, 4), (2, 1, 3, 2), (0,), (2, 0, 3)]


def header(code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def sample(dtype, shape, rng) -> np.ndarray:
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "ui" else None
    if info is not None:
        a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
        if a.size >= 2:
            a.flat[0], a.flat[1] = info.min, info.max
        return a
    return rng.standard_normal(shape).astype(dtype) * 1e3


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(tmp_path, rng, dtype, shape, gz):
    a = sample(dtype, shape, rng)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, a)
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == shape
    np.testing.assert_array_equal(a, b)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left


def test_big_endian_input_and_header_bytes(tmp_path):
    a = np.array([[1, -2, 3]], dtype=">i4")
    write_idx(tmp_path / "a.idx", a)
    raw = (tmp_path / "a.idx").read_bytes()
    assert raw == header(0x0C, (1, 3)) + a.astype(">i4").tobytes()
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)


def test_gzip_detected_by_magic_not_name(tmp_path, rng):
    a = rng.integers(0, 256, size=(4, 5, 6), dtype=np.uint8)
    write_idx(tmp_path / "x.gz", a)
    os.rename(tmp_path / "x.gz", tmp_path / "compressed.idx")
    (tmp_path / "plain.gz").write_bytes(header(0x08, a.shape) + a.tobytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "compressed.idx"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), a)


def test_sha256_is_of_decompressed_bytes(tmp_path, rng):
    import hashlib

    a = rng.integers(0, 256, size=(3, 7), dtype=np.uint8)
    write_idx(tmp_path / "a.gz", a)
    _, sha = read_idx_with_sha256(tmp_path / "a.gz")
    assert sha == hashlib.sha256(header(0x08, a.shape) + a.tobytes()).hexdigest()


@pytest.mark.parametrize("array, words", [
    (np.zeros(3, dtype=np.int64), "int64"),
    (np.zeros(3, dtype=bool), "bool"),
    (np.zeros(3, dtype=np.float16), "float16"),
    (np.array(5, dtype=np.uint8), "0-dimensional"),
])
def test_write_rejects(tmp_path, array, words):
    with pytest.raises(IDXError, match=words) as err:
        write_idx(tmp_path / "bad.idx", array)
    assert "bad.idx" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_write_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "a.idx"
    write_idx(path, np.arange(3, dtype=np.uint8))
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(idx.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(5, dtype=np.uint8))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.idx"]


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


GOOD = header(0x08, (2, 2, 2)) + bytes(range(8))
GOOD_GZ = gz(GOOD)
CORRUPTIONS = {
    "empty": (b"", "empty file"),
    "short magic": (b"\x00\x00", "truncated header"),
    "bad magic": (b"\x01\x02\x08\x01" + b"\x00" * 8, "first two bytes are 01 02"),
    "bad dtype code": (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "dtype code 0x07"),
    "zero dims": (b"\x00\x00\x08\x00", "0 dimensions"),
    "short dims": (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated header"),
    "truncated payload": (GOOD[:-3], "truncated, expected 24 bytes of pixels, got 21"),
    "trailing bytes": (GOOD + b"\x00\x00", "2 unexpected bytes"),
    "huge dims": (header(0x0E, (65536, 65536, 2)), "more than the limit"),
    "gzip truncated": (GOOD_GZ[:-12], "gzip"),
    "gzip header only": (GOOD_GZ[:5], "gzip"),
    "gzip bad method": (GOOD_GZ[:2] + b"\x07" + GOOD_GZ[3:], "not a valid gzip file"),
    "gzip corrupt deflate": (GOOD_GZ[:10] + b"\xff" * 6 + GOOD_GZ[16:], "gzip"),
    "gzip bad crc": (GOOD_GZ[:-8] + bytes(4) + GOOD_GZ[-4:], "corrupt gzip stream .CRC"),
    "gzip trailing garbage": (GOOD_GZ + b"garbage!", "gzip"),
    "gzip of truncated idx": (gz(GOOD[:-1]), "truncated, expected 24 bytes of pixels, got 23"),
    "gzip of idx with trailing": (gz(GOOD + b"!"), "1 unexpected bytes"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_raises_idxerror_naming_file(tmp_path, name):
    data, words = CORRUPTIONS[name]
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data)
    with pytest.raises(IDXError, match=words) as err:
        read_idx(path)
    assert str(err.value).startswith(str(path) + ":")
    assert "\n" not in str(err.value)


def test_truncated_mnist_sized_message(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gz(header(0x08, (60000, 28, 28)) + bytes(1024 - 16)))
    with pytest.raises(IDXError) as err:
        read_idx(path)
    assert str(err.value) == f"{path}: truncated, expected 47040016 bytes of pixels, got 1024"


def test_size_limit_is_checked_before_allocating(tmp_path):
    path = tmp_path / "a.idx"
    path.write_bytes(header(0x08, (1000, 1000)))
    with pytest.raises(IDXError, match="1000000 bytes.*limit of 1000 bytes"):
        read_idx(path, max_bytes=1000)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(IDXError, match="nope.gz: file not found"):
        read_idx(tmp_path / "nope.gz")
    with pytest.raises(IDXError, match="is a directory"):
        read_idx(tmp_path)
    assert issubclass(IDXError, DataError)


def test_read_labels_range_names_first_bad(tmp_path):
    path = tmp_path / "labels.gz"
    write_idx(path, np.array([0, 9, 3, 12, 10, 1], dtype=np.uint8))
    with pytest.raises(IDXError, match=r"label 12 at index 3 is out of range, expected 0..9"):
        read_labels(path)
    labels = read_labels(path, num_classes=13)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 9, 3, 12, 10, 1]


@pytest.mark.parametrize("array", [np.zeros((2, 2), np.uint8), np.zeros(3, np.int16)])
def test_read_labels_wrong_layout(tmp_path, array):
    write_idx(tmp_path / "l.idx", array)
    with pytest.raises(IDXError, match="l.idx: expected 1-D uint8 labels"):
        read_labels(tmp_path / "l.idx")


def test_read_images_checks_layout_and_size(tmp_path):
    write_idx(tmp_path / "i.idx", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "f.idx", np.zeros((2, 28, 28), np.float32))
    assert read_images(tmp_path / "i.idx", size=(28, 28)).shape == (2, 28, 28)
    with pytest.raises(IDXError, match="i.idx: expected 32x32 images, got 28x28"):
        read_images(tmp_path / "i.idx", size=(32, 32))
    with pytest.raises(IDXError, match="f.idx: expected 3-D uint8 images"):
        read_images(tmp_path / "f.idx")


def test_count_mismatch():
    with pytest.raises(IDXError, match="imgs.gz: holds 3 images but lbls.gz holds 2 labels"):
        check_same_count(np.zeros((3, 2, 2)), np.zeros(2), "imgs.gz", "lbls.gz")


# ---------------------------------------------------------------- property-based -----------
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _parse_or_idxerror(path: Path) -> np.ndarray | None:
    try:
        return read_idx(path)
    except IDXError as exc:
        assert str(path) in str(exc)
        return None


@FUZZ
@given(data=st.binary(max_size=300), gzipped=st.booleans())
def test_random_bytes_parse_or_raise_idxerror(tmp_path, data, gzipped):
    path = tmp_path / "fuzz.idx"
    path.write_bytes(gz(data) if gzipped else data)
    _parse_or_idxerror(path)


@FUZZ
@given(data=st.binary(min_size=4, max_size=64))
def test_random_bytes_after_valid_magic(tmp_path, data):
    path = tmp_path / "fuzz.idx"
    path.write_bytes(b"\x00\x00" + bytes([0x08 + data[0] % 7, 1 + data[1] % 4]) + data[2:])
    _parse_or_idxerror(path)


@st.composite
def corrupted(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    a = np.arange(int(np.prod(shape)), dtype=np.int64).astype(dtype).reshape(shape)
    compress = draw(st.booleans())
    raw = header(idx._CODES[f"{a.dtype.kind}{a.dtype.itemsize}"], shape) + \
        a.astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    data = bytearray(gz(raw) if compress else raw)
    how = draw(st.sampled_from(["truncate", "flip", "append", "zero"]))
    if how == "truncate":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif how == "append":
        data += draw(st.binary(min_size=1, max_size=16))
    else:
        i = draw(st.integers(0, len(data) - 1))
        data[i] = (data[i] ^ draw(st.integers(1, 255))) if how == "flip" else 0
    return bytes(data), how, compress, a


@FUZZ
@given(case=corrupted())
def test_corrupted_valid_files_parse_or_raise_idxerror(tmp_path, case):
    data, how, compress, original = case
    path = tmp_path / "fuzz.idx"
    path.write_bytes(data)
    out = _parse_or_idxerror(path)
    if how in ("truncate", "append") and not compress:
        assert out is None  # a plain file of the wrong length can never be valid
    if how == "truncate" and compress and out is not None:
        assert False, "a truncated gzip stream must not parse"


def test_corrupt_deflate_data_is_reported_as_gzip(tmp_path):
    raw = header(0x08, (100, 100)) + np.random.default_rng(0).bytes(10000)
    data = bytearray(gz(raw))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(IDXError, match="gzip") as err:
        read_idx(path)
    assert isinstance(err.value.__cause__, (type(None), zlib.error))


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "labels.gz"
    os.mkfifo(fifo)       # nothing ever writes: a plain open() would wait forever
    with pytest.raises(IDXError, match="labels.gz: not a regular file"):
        read_idx(fifo)
