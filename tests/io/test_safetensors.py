"""barenet.io's safetensors: the same bytes as the reference writer, round trips both ways with
the real ``safetensors`` package (NumPy and PyTorch), and every hostile file refused with one
SafetensorsError line naming it, never anything else, never an allocation beyond the file."""
from __future__ import annotations

import json
import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barenet.errors import ConfigError, DataError
from barenet.io import SafetensorsError, SafetensorsFile, load_safetensors, save_safetensors
from barenet.io.safetensors import MAX_HEADER_BYTES

st_numpy = pytest.importorskip("safetensors.numpy")

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.float16, np.int32, np.uint32,
          np.float32, np.complex64, np.float64, np.int64, np.uint64]
SHAPES = [(), (5,), (3, 4), (2, 3, 4), (0,), (2, 0, 3)]


def sample(dtype, shape, rng) -> np.ndarray:
    """Values that use the whole range of ``dtype`` (its extremes included)."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dt.kind in "ui":
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
        if a.size >= 2:
            a.flat[0], a.flat[1] = info.min, info.max
        return a
    a = rng.standard_normal(shape) * 1e3
    if dt.kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return np.asarray(a).astype(dt)


def header_of(data: bytes) -> tuple[int, str]:
    n = struct.unpack("<Q", data[:8])[0]
    return n, data[8:8 + n].decode("utf-8")


def raw(header: str | bytes, data: bytes = b"", n: int | None = None) -> bytes:
    """A file from a header text (not padded) and data bytes; ``n`` overrides its length."""
    h = header.encode("utf-8") if isinstance(header, str) else header
    return struct.pack("<Q", len(h) if n is None else n) + h + data


def write(tmp_path: Path, data: bytes, name: str = "t.safetensors") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- the reference's bytes ----
def every_dtype(rng) -> dict[str, np.ndarray]:
    out = {f"t{i}.{np.dtype(d).name}": sample(d, (3,), rng) for i, d in enumerate(DTYPES)}
    out.update({"scalar": np.array(2.5, np.float32), "empty": np.zeros((0, 4), np.float32),
                "b": sample(np.float32, (2, 3), rng), "a": sample(np.float32, (1,), rng),
                "ünïcode/名前": sample(np.int64, (2,), rng)})
    return out


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}])
def test_the_bytes_are_the_reference_writers(tmp_path, rng, metadata):
    tensors = every_dtype(rng)
    path = save_safetensors(tensors, tmp_path / "a.safetensors", metadata)
    data = path.read_bytes()
    assert data == st_numpy.save(tensors, metadata=metadata)
    n, header = header_of(data)
    assert (8 + n) % 8 == 0 and header.rstrip(" ").endswith("}")
    offsets = [json.loads(header)[k]["data_offsets"][0] for k in json.loads(header)
               if k != "__metadata__"]
    assert offsets == sorted(offsets)


def test_each_tensor_starts_aligned_to_its_item_size(tmp_path, rng):
    tensors = {f"x{i}": sample(d, (i % 3 + 1,), rng) for i, d in enumerate(DTYPES * 2)}
    data = save_safetensors(tensors, tmp_path / "a.safetensors").read_bytes()
    n, header = header_of(data)
    for name, info in json.loads(header).items():
        begin = 8 + n + info["data_offsets"][0]
        assert begin % tensors[name].dtype.itemsize == 0, name


# ---------------------------------------------------------------- round trips -------------
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_barenet_writes_what_the_reference_reads(tmp_path, rng, dtype, shape):
    a = sample(dtype, shape, rng)
    path = save_safetensors({"w": a, "bias": a[..., :1] if a.ndim else a}, tmp_path / "a.st")
    got = st_numpy.load_file(str(path))
    assert got["w"].dtype == a.dtype and got["w"].shape == a.shape
    np.testing.assert_array_equal(got["w"], a)
    mine, meta = load_safetensors(path)
    assert meta == {} and mine["w"].dtype == a.dtype and mine["w"].shape == shape
    np.testing.assert_array_equal(mine["w"], a)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_barenet_reads_what_the_reference_writes(tmp_path, rng, dtype, shape):
    a = sample(dtype, shape, rng)
    path = tmp_path / "ref.safetensors"
    st_numpy.save_file({"w": a, "z": np.ones(2, np.float64)}, str(path),
                       metadata={"format": "np", "ключ": "значение"})
    got, meta = load_safetensors(path)
    assert got["w"].dtype == a.dtype and got["w"].dtype.isnative and got["w"].shape == shape
    assert got["w"].flags.c_contiguous and got["w"].flags.writeable
    np.testing.assert_array_equal(got["w"], a)
    assert meta == {"format": "np", "ключ": "значение"}


TORCH_DTYPES = ["bool", "uint8", "int8", "int16", "float16", "bfloat16", "int32", "float32",
                "complex64", "float64", "int64"]


@pytest.mark.parametrize("name", TORCH_DTYPES)
def test_round_trips_with_safetensors_torch(tmp_path, name):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    gen = torch.Generator().manual_seed(0)
    dtype = getattr(torch, name)
    x = (torch.randn(3, 4, generator=gen) * 100).to(dtype)
    scalar, empty = x[0, 0].clone(), x[:0].clone()
    path = tmp_path / "torch.safetensors"
    st_torch.save_file({"x": x, "s": scalar, "e": empty}, str(path), metadata={"format": "pt"})
    got, meta = load_safetensors(path)
    assert meta == {"format": "pt"}
    want = x.float() if name == "bfloat16" else x     # BF16 is widened to float32, exactly
    np.testing.assert_array_equal(got["x"], want.numpy())
    assert got["s"].shape == () and got["e"].shape == (0, 4)
    if name == "bfloat16":
        assert got["x"].dtype == np.float32
        return
    back = st_torch.load_file(str(save_safetensors(got, tmp_path / "back.safetensors")))
    assert back["x"].dtype == dtype and torch.equal(back["x"], x)
    assert back["s"].shape == () and back["e"].shape == (0, 4)


def test_non_native_and_strided_arrays_are_written_in_order(tmp_path):
    a = np.arange(24, dtype=">f4").reshape(4, 6)[:, ::2]       # big-endian, not contiguous
    f = np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3))
    got, _ = load_safetensors(save_safetensors({"a": a, "f": f}, tmp_path / "a.st"))
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["f"], f)
    assert got["a"].dtype == np.float32 and got["a"].dtype.isnative


def test_metadata_round_trips_and_is_sorted(tmp_path):
    meta = {"z": "last", "a": "first", "json": json.dumps({"k": [1, 2]}), "empty": ""}
    path = save_safetensors({"x": np.zeros(1, np.float32)}, tmp_path / "m.st", meta)
    assert load_safetensors(path)[1] == meta
    assert st_numpy.load_file(str(path))["x"].shape == (1,)
    header = json.loads(header_of(path.read_bytes())[1])
    assert list(header) == ["__metadata__", "x"] and list(header["__metadata__"]) == sorted(meta)


def test_a_file_of_no_tensors(tmp_path):
    path = save_safetensors({}, tmp_path / "e.st")
    assert path.read_bytes() == st_numpy.save({}) == b"\x08" + b"\0" * 7 + b"{}      "
    assert load_safetensors(path) == ({}, {})


def test_writing_replaces_the_file_atomically_and_a_refused_write_keeps_it(tmp_path):
    path = tmp_path / "w.safetensors"
    save_safetensors({"x": np.ones(2, np.float32)}, path)
    before = path.read_bytes()
    with pytest.raises(ConfigError):
        save_safetensors({"x": np.array(["text"])}, path)
    assert path.read_bytes() == before
    save_safetensors({"y": np.zeros(3, np.int8)}, path)
    assert list(load_safetensors(path)[0]) == ["y"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


@pytest.mark.parametrize("tensors, metadata, expected", [
    ({"x": np.array([1 + 2j])}, None, "dtype complex128, expected one of BOOL"),
    ({"x": np.array([object()])}, None, "dtype object"),
    ({"x": np.array(["a"])}, None, "dtype <U1"),
    ({"x": np.zeros(2, [("a", "f4")])}, None, "dtype"),
    ({"x": [1.0, 2.0]}, None, "is a list, expected a NumPy array"),
    ({"__metadata__": np.zeros(1)}, None, "'__metadata__' is not allowed"),
    ({1: np.zeros(1)}, None, "tensor name 1 is not allowed"),
    ({"x": np.zeros(1)}, {"k": 1}, "metadata must be a dict of strings to strings"),
    ({"x": np.zeros(1)}, ["k"], "metadata must be a dict of strings"),
    ({"\ud800": np.zeros(1)}, None, "not valid Unicode text"),
])
def test_what_the_format_cannot_hold_is_refused(tmp_path, tensors, metadata, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace("[", r"\[")) \
            as info:
        save_safetensors(tensors, tmp_path / "bad.st", metadata)
    assert "\n" not in str(info.value) and str(tmp_path / "bad.st") in str(info.value)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- hostile files -----------
F32 = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
HOSTILE = {
    "empty file": (b"", "0 bytes, too short for the 8-byte header length"),
    "7 bytes": (b"\x02" + b"\0" * 6, "7 bytes, too short"),
    "header past the end": (raw("{}", n=1000), "the header length says 1,000 bytes but only 2"),
    "header over the limit": (raw("{}", n=MAX_HEADER_BYTES + 1), "more than the limit of "
                                                                 "100,000,000"),
    "length of 2**64-1": (b"\xff" * 8 + b"{}", "the header length says 18,446,744"),
    "not UTF-8": (raw(b'{"\xff":1}'), "the header is not UTF-8 text"),
    "not JSON": (raw("{nope"), "the header is not JSON"),
    "zero-length header": (raw(""), "the header is not JSON"),
    "NUL padding": (raw("{}\0"), "the header is not JSON"),
    "NaN": (raw('{"__metadata__":{"a":"b"},"x":NaN}'), "NaN is not JSON"),
    "a JSON array": (raw("[]"), "the header is a JSON array, expected an object"),
    "a JSON string": (raw('"x"'), "the header is a JSON string, expected an object"),
    "deep nesting": (raw("[" * 100_000 + "]" * 100_000), "the header is not JSON"),
    "huge integer": (raw('{"x":{"dtype":"F32","shape":[' + "9" * 5000 + '],"data_offsets"'
                         ':[0,4]}}', b"\0" * 4), "the header is not JSON"),
    "duplicate tensor": (raw(f'{{"a":{F32},"a":{F32}}}', b"\0" * 4), "names 'a' twice"),
    "duplicate metadata": (raw('{"__metadata__":{},"__metadata__":{}}'),
                           "names '__metadata__' twice"),
    "duplicate metadata key": (raw('{"__metadata__":{"k":"1","k":"2"}}'), "names 'k' twice"),
    "duplicate field": (raw('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets"'
                            ':[0,4]}}', b"\0" * 4), "names 'dtype' twice"),
    "metadata not an object": (raw('{"__metadata__":[]}'), "__metadata__ is a JSON array, "
                                                           "expected an object of strings"),
    "metadata number": (raw('{"__metadata__":{"k":1}}'), "__metadata__ 'k' is a JSON number, "
                                                         "expected a string"),
    "metadata null value": (raw('{"__metadata__":{"k":null}}'), "'k' is JSON null"),
    "tensor not an object": (raw('{"a":[1]}'), "tensor 'a' is a JSON array, expected an object"),
    "missing field": (raw('{"a":{"dtype":"F32","shape":[1]}}'), "tensor 'a' lacks "
                                                                "data_offsets"),
    "unknown field": (raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}',
                          b"\0" * 4), "tensor 'a' has unknown field 'x'"),
    "unknown dtype": (raw('{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
                      'tensor \'a\' has dtype "F31", expected one of BOOL, U8'),
    "lower-case dtype": (raw('{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}',
                             b"\0" * 4), 'has dtype "f32"'),
    "dtype not a string": (raw('{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}',
                               b"\0" * 4), "has dtype 4, expected"),
    "an 8-bit float": (raw('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}',
                           b"\0"), "F8_E4M3, which NumPy has no type for"),
    "negative dim": (raw('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', b"\0" * 4),
                     "has shape [-1], expected a list of at most 32 non-negative integers"),
    "float dim": (raw('{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', b"\0" * 4),
                  "has shape [1.0]"),
    "bool dim": (raw('{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}', b"\0" * 4),
                 "has shape [true]"),
    "shape not a list": (raw('{"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}', b"\0" * 4),
                         "has shape 4"),
    "33 dimensions": (raw('{"a":{"dtype":"F32","shape":' + json.dumps([1] * 33)
                          + ',"data_offsets":[0,4]}}', b"\0" * 4), "at most 32"),
    "empty but enormous": (raw('{"a":{"dtype":"F32","shape":[0,4611686018427387904],'
                               '"data_offsets":[0,0]}}'), "too large for an array"),
    "size overflow": (raw('{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],'
                          '"data_offsets":[0,4]}}', b"\0" * 4), "too large for an array"),
    "offsets reversed": (raw('{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}',
                             b"\0" * 4), "expected [begin, end] with 0 <= begin <= end"),
    "three offsets": (raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}',
                          b"\0" * 4), "has data_offsets [0, 4, 4]"),
    "negative offset": (raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}'),
                        "has data_offsets [-4, 0]"),
    "size not shape": (raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}',
                           b"\0" * 4), "is F32 [2], 8 bytes, but its data_offsets [0, 4] hold 4"),
    "offsets beyond the shape": (raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}',
                                     b"\0" * 8), "is F32 [1], 4 bytes, but its data_offsets "
                                                  "[0, 8] hold 8"),
    "a gap": (raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
              "starts at byte 4 of the data and leaves a gap before it; expected 0"),
    "an overlap": (raw(f'{{"a":{F32},"b":{F32}}}', b"\0" * 4),
                   "starts at byte 0 of the data and overlaps the one before; expected 4"),
    "past the end": (raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 3),
                     "the tensors cover 4 bytes of data but the file holds 3"),
    "bytes left over": (raw(f'{{"a":{F32}}}', b"\0" * 5), "cover 4 bytes of data but the "
                                                          "file holds 5"),
    "a BOOL of 2": (raw('{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}', b"\x02"),
                    "tensor 'a' is BOOL but holds a byte other than 0 or 1"),
    "control characters in a name": (raw('{"\\u001b[31m":[]}'), r"tensor '\x1b[31m' is a JSON"),
    "a lone surrogate in a name": (raw('{"\\ud800":[]}'), r"tensor name '\ud800' is not "
                                                          "valid Unicode"),
    "a lone surrogate in metadata": (raw('{"__metadata__":{"k":"\\udfff"}}'),
                                     r"__metadata__ 'k' is not valid Unicode"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_is_refused_in_one_line(tmp_path, case):
    data, expected = HOSTILE[case]
    path = write(tmp_path, data)
    with pytest.raises(SafetensorsError) as info:
        load_safetensors(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message and len(message) < 400, message
    assert isinstance(info.value, DataError)


@pytest.mark.parametrize("data", [
    raw(" \t\n{}"), raw("{}" + " " * 6), raw("{}\r\n\t "),
    raw('{"__metadata__":null}'), raw('{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},'
                                      '"b":{"dtype":"I64","shape":[2,0],"data_offsets":[0,0]}}'),
    raw(f'{{"b":{F32},"a":{{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}}}', b"\0" * 8),
    raw('{"":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}', b"\x07"),
], ids=["leading whitespace", "space padding", "any JSON whitespace", "null metadata",
        "empty tensors sharing an offset", "any order of entries", "an empty name"])
def test_what_the_reference_accepts_is_read(tmp_path, data):
    path = write(tmp_path, data)
    mine, _ = load_safetensors(path)
    ref = st_numpy.load(data)
    assert sorted(mine) == sorted(ref)
    for k in mine:
        assert mine[k].dtype == ref[k].dtype and mine[k].shape == ref[k].shape
        np.testing.assert_array_equal(mine[k], ref[k])


def test_tensors_come_back_in_offset_order(tmp_path):
    data = raw('{"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},'
               '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x01\x02")
    got, _ = load_safetensors(write(tmp_path, data))
    assert list(got) == ["a", "b"] and got["a"][0] == 1 and got["b"][0] == 2


def test_missing_directory_fifo_and_symlink_are_refused(tmp_path):
    good = save_safetensors({"x": np.zeros(1, np.float32)}, tmp_path / "good.st")
    with pytest.raises(SafetensorsError, match="nope.st: no such file"):
        load_safetensors(tmp_path / "nope.st")
    with pytest.raises(SafetensorsError, match="is a directory, expected a .safetensors file"):
        load_safetensors(tmp_path)
    link = tmp_path / "link.st"
    link.symlink_to(good)
    with pytest.raises(SafetensorsError, match=r"link.st: a symbolic link \(to '.*good.st'\), "
                                               "expected a .safetensors file; give the file"):
        load_safetensors(link)
    fifo = tmp_path / "fifo.st"
    os.mkfifo(fifo)       # nothing ever writes: a plain open() would wait forever
    with pytest.raises(SafetensorsError, match="fifo.st: not a regular file"):
        load_safetensors(fifo)
    dev = Path("/dev/zero")
    if dev.exists():
        with pytest.raises(SafetensorsError, match="not a regular file"):
            load_safetensors(dev)


def test_max_bytes_caps_the_file(tmp_path):
    path = save_safetensors({"x": np.zeros(100, np.float32)}, tmp_path / "big.st")
    assert load_safetensors(path, max_bytes=path.stat().st_size)[0]["x"].shape == (100,)
    with pytest.raises(SafetensorsError, match="more than the limit of 100"):
        load_safetensors(path, max_bytes=100)


def test_the_header_is_seen_before_any_tensor_is_read(tmp_path):
    path = save_safetensors({"w": np.ones((2, 3), np.float32), "n": np.zeros((), np.int64)},
                            tmp_path / "h.st", {"format": "pt"})
    with SafetensorsFile(path) as f:
        info = f.tensors["w"]
        assert (info.dtype, info.shape, info.nbytes) == ("F32", (2, 3), 24)
        assert f.tensors["n"].array_dtype == np.int64 and f.metadata == {"format": "pt"}
        assert list(f.read(["n"])) == ["n"]
        with pytest.raises(SafetensorsError, match="holds no tensor 'q'"):
            f.read(["q"])


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except SafetensorsError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_nothing_is_allocated_beyond_what_the_file_holds(tmp_path):
    """A header promising a 1 GiB tensor in a file of 100 bytes is refused from the header;
    a valid file costs about its own size."""
    liar = write(tmp_path, raw('{"a":{"dtype":"F32","shape":[268435456],'
                               '"data_offsets":[0,1073741824]}}', b"\0" * 16), "liar.st")
    assert peak_bytes(lambda: load_safetensors(liar)) < 1 << 20
    honest = save_safetensors({"a": np.ones(1 << 20, np.float32)}, tmp_path / "honest.st")
    size = honest.stat().st_size
    assert size < peak_bytes(lambda: load_safetensors(honest)) < size + (1 << 20)


# ---------------------------------------------------------------- property-based ----------
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def parse_or_refuse(path: Path, data: bytes) -> dict | None:
    """barenet's answer for a file: the tensors, or None after a SafetensorsError naming the
    file; anything else fails the test. What barenet reads, the reference reads the same."""
    try:
        got, meta = load_safetensors(path)
    except SafetensorsError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        return None
    assert all(isinstance(v, str) for v in meta.values())
    with SafetensorsFile(path) as f:
        widened = any(t.dtype == "BF16" for t in f.tensors.values())
    if not widened:                 # the reference's NumPy loader has no bfloat16
        ref = st_numpy.load(data)
        assert sorted(ref) == sorted(got)
        for k in got:
            assert ref[k].dtype == got[k].dtype and ref[k].shape == got[k].shape
            np.testing.assert_array_equal(ref[k], got[k])
    return got


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_parse_or_raise_safetensors_error(tmp_path, data):
    parse_or_refuse(write(tmp_path, data), data)


@FUZZ
@given(header=st.text(max_size=120), tail=st.binary(max_size=32))
def test_random_headers_parse_or_raise_safetensors_error(tmp_path, header, tail):
    data = raw(header.encode("utf-8", "surrogatepass"), tail)
    parse_or_refuse(write(tmp_path, data), data)


JSONISH = st.recursive(st.none() | st.booleans() | st.integers(-10, 2**65) | st.floats()
                       | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=10)


@st.composite
def entries(draw):
    """A header of a few tensors whose fields are sometimes right and sometimes anything."""
    header, offset = {}, 0
    for i in range(draw(st.integers(0, 4))):
        dtype = draw(st.sampled_from(["F32", "U8", "BOOL", "I64", "BF16", "C64", "F8_E5M2"]))
        shape = draw(st.lists(st.integers(0, 3), max_size=3))
        size = int(np.prod(shape)) * {"F32": 4, "C64": 8, "I64": 8, "BF16": 2}.get(dtype, 1)
        entry = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
        if draw(st.integers(0, 4)) == 0:
            entry[draw(st.sampled_from(["dtype", "shape", "data_offsets", "extra"]))] = \
                draw(JSONISH)
        header[draw(st.text(max_size=4)) + str(i)] = entry
    if draw(st.booleans()):
        header["__metadata__"] = draw(st.dictionaries(st.text(max_size=4),
                                                      st.text(max_size=4) | JSONISH))
    data = draw(st.binary(min_size=offset, max_size=offset)) + \
        draw(st.sampled_from([b"", b"\0"]))
    return json.dumps(header), data


@FUZZ
@given(case=entries())
def test_structured_headers_parse_or_raise_safetensors_error(tmp_path, case):
    header, tail = case
    data = raw(header, tail)
    parse_or_refuse(write(tmp_path, data), data)


@FUZZ
@given(choice=st.data())
def test_corrupted_valid_files_parse_or_raise_safetensors_error(tmp_path, choice):
    rng = np.random.default_rng(choice.draw(st.integers(0, 2**32 - 1)))
    tensors = {f"t{i}": sample(d, tuple(choice.draw(st.lists(st.integers(0, 3), max_size=2))),
                               rng)
               for i, d in enumerate(choice.draw(st.lists(st.sampled_from(DTYPES), min_size=1,
                                                          max_size=4)))}
    original = save_safetensors(tensors, tmp_path / "valid.st").read_bytes()
    data = bytearray(original)
    how = choice.draw(st.sampled_from(["truncate", "append", "flip", "zero"]))
    if how == "truncate":
        data = data[:choice.draw(st.integers(0, len(data) - 1))]
    elif how == "append":
        data += choice.draw(st.binary(min_size=1, max_size=16))
    else:
        i = choice.draw(st.integers(0, len(data) - 1))
        data[i] = data[i] ^ choice.draw(st.integers(1, 255)) if how == "flip" else 0
    out = parse_or_refuse(write(tmp_path, bytes(data)), bytes(data))
    if how in ("truncate", "append"):
        assert out is None        # a file of another length can never be valid
