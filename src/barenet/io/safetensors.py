"""The safetensors format, byte by byte: what a header holds and how it is checked.

A ``.safetensors`` file is three parts::

    8 bytes     N, the header's length: an unsigned 64-bit integer, little-endian
    N bytes     the header: UTF-8 JSON, one object, padded at the end with spaces
    the rest    the data: every tensor's bytes, little-endian, C order, back to back

The header maps each tensor's name to ``{"dtype": "F32", "shape": [2, 3], "data_offsets":
[begin, end]}``, offsets counted in bytes from the start of the data; the optional key
``"__metadata__"`` holds an object of strings. ``parse_header`` checks a header as hostile
input, against the rules of the reference implementation (Hugging Face's ``safetensors``) and a
few of its own, before anything is allocated:

- N at most ``MAX_HEADER_BYTES`` (the reference's 100,000,000) and inside the file;
- the header UTF-8 JSON, an object, no key twice at any level (the reference keeps the last
  one silently), no NaN or Infinity;
- each tensor exactly ``dtype``, ``shape`` and ``data_offsets``: a known dtype, a shape of at
  most ``MAX_DIMS`` non-negative integers, two offsets with ``begin <= end`` whose difference
  is ``prod(shape) * itemsize``;
- the tensors, sorted by offset, cover the data exactly: no gap, no overlap, nothing after the
  last one (empty tensors take no bytes and may share an offset);
- ``__metadata__`` absent, null or an object whose values are strings.

Every problem is a ``SafetensorsError``: one line naming the file and what was expected.
``encode_header`` writes a header the way the reference does (``safetensors_write.py``).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError, brief

MAX_HEADER_BYTES = 100_000_000  # the reference's limit on N
MAX_TENSORS = 100_000           # tensors in one file (real checkpoints hold a few thousand)
MAX_DIMS = 32                   # dimensions of one tensor (NumPy 1.x builds no more)
METADATA = "__metadata__"
FIELDS = ("dtype", "shape", "data_offsets")

#: dtype name -> the little-endian NumPy dtype its bytes are. BF16 is read into float32
#: (bfloat16 is the top half of a float32, so widening is exact) and never written.
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"), "U16": np.dtype("<u2"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "I32": np.dtype("<i4"), "U32": np.dtype("<u4"),
    "F32": np.dtype("<f4"), "C64": np.dtype("<c8"), "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"), "U64": np.dtype("<u8"),
}
#: The reference's order of dtypes (by alignment); a writer puts the last ones first.
ORDER = ("BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64",
         "I64", "U64")
#: dtypes of the reference that NumPy has no type for: refused with a reason.
UNSUPPORTED = ("F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
               "F8_E5M2FNUZ")


class SafetensorsError(DataError):
    """A .safetensors file is missing, not a regular file, malformed, or does not fit."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header describes it (nothing read yet): ``dtype`` is the format's
    name ("F32"), ``begin``/``end`` the byte offsets in the data."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin

    @property
    def array_dtype(self) -> np.dtype:
        """The dtype of the array it is read into (native order; float32 for BF16)."""
        return np.dtype(np.float32) if self.dtype == "BF16" else \
            DTYPES[self.dtype].newbyteorder("=")


class _Duplicate(ValueError):
    """A JSON object names one key twice."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _kind(value: Any) -> str:
    """What a parsed JSON value is, for a message: "a JSON array", "JSON null"."""
    if isinstance(value, bool) or value is None:
        return f"JSON {json.dumps(value)}"
    return "a JSON " + {int: "number", float: "number", str: "string", list: "array",
                        dict: "object"}.get(type(value), type(value).__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def show(name: str, limit: int = 60) -> str:
    """A tensor or metadata name from a file, quoted for a message: escaped and cut."""
    text = repr(name[:limit])
    return text + (f"... ({len(name):,} characters)" if len(name) > limit else "")


def parse_header(raw: bytes, data_size: int, where: str
                 ) -> tuple[dict[str, TensorInfo], dict[str, str] | None]:
    """(tensors by name in offset order, metadata or None) of the header bytes ``raw``,
    checked against a data part of ``data_size`` bytes; SafetensorsError naming ``where``."""
    def fail(what: str) -> SafetensorsError:
        return SafetensorsError(f"{where}: {what}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"the header is not UTF-8 text (byte {exc.start + 8:,} of the file)") \
            from None
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Duplicate as exc:
        raise fail(f"the header names {show(str(exc.args[0]))} twice, expected each key once") \
            from None
    except json.JSONDecodeError as exc:
        raise fail(f"the header is not JSON ({exc.msg} at character {exc.pos:,})") from None
    except (ValueError, RecursionError) as exc:
        raise fail(f"the header is not JSON ({brief(exc, 80)})") from None
    if not isinstance(obj, dict):
        raise fail(f"the header is {_kind(obj)}, expected an object")
    metadata = _metadata(obj.pop(METADATA, None), fail)
    if len(obj) > MAX_TENSORS:
        raise fail(f"{len(obj):,} tensors, more than the limit of {MAX_TENSORS:,}")
    tensors = [_tensor(name, entry, fail) for name, entry in obj.items()]
    tensors.sort(key=lambda t: (t.begin, t.end))
    covered = 0
    for t in tensors:
        if t.begin != covered:
            how = "leaves a gap before it" if t.begin > covered else "overlaps the one before"
            raise fail(f"tensor {show(t.name)} starts at byte {t.begin:,} of the data and "
                       f"{how}; expected {covered:,} (tensors must cover the data back to back)")
        covered = t.end
    if covered != data_size:
        raise fail(f"the tensors cover {covered:,} bytes of data but the file holds "
                   f"{data_size:,} after the header; expected them to cover it exactly")
    return {t.name: t for t in tensors}, metadata


def _text(text: str, what: str, fail: Any) -> None:
    """``text`` must be Unicode that UTF-8 can hold (JSON can escape a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(f"{what} is not valid Unicode (a lone surrogate escape), expected text") \
            from None


def _metadata(value: Any, fail: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise fail(f"{METADATA} is {_kind(value)}, expected an object of "
                   "strings")
    for key, item in value.items():
        _text(key, f"{METADATA} key {show(key)}", fail)
        if not isinstance(item, str):
            raise fail(f"{METADATA} {show(key)} is {_kind(item)}, expected a "
                       "string")
        _text(item, f"{METADATA} {show(key)}", fail)
    return value


def _tensor(name: str, entry: Any, fail: Any) -> TensorInfo:
    """One header entry checked on its own: fields, dtype, shape, offsets and their size."""
    label = f"tensor {show(name)}"
    _text(name, f"tensor name {show(name)}", fail)
    if not isinstance(entry, dict):
        raise fail(f"{label} is {_kind(entry)}, expected an object with "
                   f"{', '.join(FIELDS)}")
    if set(entry) != set(FIELDS):
        extra = sorted(set(entry) - set(FIELDS))
        missing = [f for f in FIELDS if f not in entry]
        what = f"lacks {', '.join(missing)}" if missing else \
            f"has unknown field {', '.join(show(k, 30) for k in extra[:3])}"
        raise fail(f"{label} {what}; expected exactly {', '.join(FIELDS)}")
    dtype = entry["dtype"]
    if dtype in UNSUPPORTED:
        raise fail(f"{label} has dtype {dtype}, which NumPy has no type for; convert it to "
                   "F16, BF16 or F32 before saving")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise fail(f"{label} has dtype {brief(json.dumps(dtype), 40)}, expected one of "
                   f"{', '.join(ORDER)}")
    shape = entry["shape"]
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or \
            not all(_is_int(d) and d >= 0 for d in shape):
        raise fail(f"{label} has shape {brief(json.dumps(shape), 60)}, expected a list of at "
                   f"most {MAX_DIMS} non-negative integers")
    offsets = entry["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(
            _is_int(o) and o >= 0 for o in offsets) and offsets[0] <= offsets[1]):
        raise fail(f"{label} has data_offsets {brief(json.dumps(offsets), 60)}, expected "
                   "[begin, end] with 0 <= begin <= end")
    itemsize = DTYPES[dtype].itemsize
    if math.prod(d for d in shape if d) * itemsize > sys.maxsize:
        raise fail(f"{label} has shape {brief(json.dumps(shape), 60)}, too large for an array")
    nbytes = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise fail(f"{label} is {dtype} {brief(json.dumps(shape), 60)}, {nbytes:,} bytes, but "
                   f"its data_offsets {offsets} hold {offsets[1] - offsets[0]:,}")
    return TensorInfo(name, dtype, tuple(shape), offsets[0], offsets[1])


def encode_header(entries: list[tuple[str, str, tuple[int, ...], int, int]],
                  metadata: dict[str, str] | None) -> bytes:
    """The header bytes for ``(name, dtype, shape, begin, end)`` entries in file order, as
    the reference writes them: compact JSON (metadata first, its keys sorted), UTF-8, padded
    with spaces to a multiple of 8 bytes so that the data starts 8-byte aligned."""
    obj: dict[str, Any] = {}
    if metadata is not None:
        obj[METADATA] = dict(sorted(metadata.items()))
    for name, dtype, shape, begin, end in entries:
        obj[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}
    raw = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return raw + b" " * (-len(raw) % 8)


__all__ = ["DTYPES", "FIELDS", "MAX_DIMS", "MAX_HEADER_BYTES", "MAX_TENSORS", "METADATA",
           "ORDER", "SafetensorsError", "TensorInfo", "UNSUPPORTED", "encode_header",
           "parse_header", "show"]
