"""Careful reads for run directories, beside the atomic writes they pair with.

The writers live in ``barenet.atomic`` (used by every feature, not only ``train``) and are
re-exported here. Every file is untrusted: it is opened without blocking and must be a regular
file (a symlink to one is fine; a FIFO, a device such as ``/dev/zero`` or a socket is refused),
and no read goes past its cap, whatever ``stat`` says. An ``.npz`` is checked from its zip
directory and each member's ``.npy`` header (name, dtype, shape, declared size, compression
ratio, total size) before any array is unpacked. Every problem is a ``CheckpointError``: one
short line naming the file.
"""
from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable

import numpy as np

from .. import regular_file
from ..atomic import (
    atomic_save_npz,
    atomic_write,
    atomic_write_bytes,
    atomic_write_json,
    deferred_interrupt,
    jsonable,
    remove_stale_temp_files,
)
from ..errors import CheckpointError, brief  # brief: also imported from here

MAX_JSON_BYTES = 64 << 20      # a run's JSON file (config.json, trainer.json, --config FILE)
MAX_NPZ_BYTES = 2 << 30        # every array of an .npz together, once unpacked
MAX_NPZ_MEMBERS = 50_000       # arrays in one .npz
MIN_BOMB_BYTES = 64 << 20      # an archive may always unpack to this much ...
MAX_EXPANSION = 100            # ... or to this many times its size on disk, no more
MAX_DEFLATE_RATIO = 1100       # deflate cannot do better than ~1032:1: more is a lie
CHUNK = 1 << 22                # bytes read at a time when unpacking a member
_DTYPE_KINDS = "biufcSU"       # numbers, bools and text: never objects, records or voids


def printable(text: Any, limit: int = 80) -> str:
    """A string read from a file, shown escaped (no control characters: a terminal escape
    or a newline reads as ``\\x1b``, ``\\n``) and cut to ``limit`` characters."""
    text = text if isinstance(text, str) else str(text)
    shown = text[:limit].encode("unicode_escape").decode("ascii")
    if len(shown) <= limit and len(text) <= limit:
        return shown
    return f"{shown[:limit]}... ({len(text):,} characters)"


def quoted(value: Any, limit: int = 80) -> str:
    """``repr(value)`` of a value read from a file, for an error message: one line (repr
    escapes control characters), cut to ``limit`` characters."""
    if isinstance(value, str) and len(value) > limit:
        return f"{repr(value[:limit])[:limit]}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def dumps_strict(obj: Any, **kwargs: Any) -> str:
    """JSON text that strict parsers accept: NumPy values made plain, and NaN or infinity
    (never valid JSON) written as null."""
    return json.dumps(jsonable(obj), allow_nan=False, **kwargs)


def name_list(what: str, names: Iterable[str], show: int = 3) -> str:
    """``"missing 3 keys: a, b, c"`` or ``"unexpected 200,000 keys: a, b, c and 199,997
    more"``: a list of names in an error message, never longer than ``show`` of them."""
    names = list(names)
    head = ", ".join(brief(n, 60) for n in names[:show])
    more = f" and {len(names) - show:,} more" if len(names) > show else ""
    noun = "key" if len(names) == 1 else "keys"
    return f"{what} {len(names):,} {noun}: {head}{more}"


def open_regular(path: str | os.PathLike, expected: str) -> tuple[BinaryIO, int]:
    """``(binary file, size)`` of ``path`` if it is a regular file; CheckpointError naming it
    otherwise (see ``barenet.regular_file``: a FIFO never blocks)."""
    return regular_file.open_regular(path, expected, CheckpointError)


def read_bounded(path: str | os.PathLike, cap: int, expected: str) -> bytes:
    """The bytes of the regular file ``path``: never more than ``cap + 1`` are read."""
    fh, size = open_regular(path, expected)
    with fh:
        if size > cap:
            raise CheckpointError(f"{path}: larger than {cap:,} bytes, the limit for "
                                  f"{expected}")
        chunks, total = [], 0
        try:
            while total <= cap:  # what stat said, then more in 64 KiB steps if it lied
                chunk = fh.read(min(max(size + 1 - total, 1 << 16), cap + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    data = b"".join(chunks)
    if len(data) > cap:
        raise CheckpointError(f"{path}: larger than {cap:,} bytes, the limit for {expected}")
    return data


def read_json(path: str | os.PathLike, cap: int | None = None) -> dict[str, Any]:
    """Parse a JSON object from ``path`` (at most ``cap`` bytes, default ``MAX_JSON_BYTES``);
    CheckpointError naming the file on any problem."""
    path = Path(path)
    data = read_bounded(path, MAX_JSON_BYTES if cap is None else cap, "a JSON file")
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not UTF-8 text, expected JSON") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} "
                              f"column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: invalid JSON ({brief(exc)})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


@dataclass(frozen=True)
class Member:
    """One array of an ``.npz`` as its headers describe it (nothing unpacked yet)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    info: zipfile.ZipInfo
    header_bytes: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class NpzArchive:
    """An ``.npz`` opened for checking before reading: ``members`` (name -> ``Member``) comes
    from the zip directory and the ``.npy`` headers; ``read(names)`` unpacks only those.

    Use as a context manager. Raises CheckpointError naming the file on any problem.
    """

    def __init__(self, path: str | os.PathLike, max_bytes: int = MAX_NPZ_BYTES) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._fh, self.size = open_regular(self.path, "an .npz file")
        try:
            self._zip = self._open_zip(self.size)
            self.members = self._scan()
            self.limit = min(max_bytes, max(MIN_BOMB_BYTES, MAX_EXPANSION * self.size))
        except BaseException:
            self.close()
            raise

    def _fail(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {what}")

    def _open_zip(self, size: int) -> zipfile.ZipFile:
        if size > MAX_NPZ_BYTES:
            raise self._fail(f"larger than {MAX_NPZ_BYTES:,} bytes, the limit for an .npz file")
        head = self._fh.read(6)
        self._fh.seek(0)
        if head.startswith(b"\x93NUMPY"):
            raise self._fail("not an .npz archive (a single .npy array?)")
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise self._fail("corrupt or not an .npz archive (expected a zip file of .npy "
                             "arrays)")
        try:  # the end record says how many entries, before zipfile reads them all
            record = zipfile._EndRecData(self._fh)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - absent in this Python, or bytes it chokes on
            record = None
        self._fh.seek(0)
        if record and record[4] > MAX_NPZ_MEMBERS:
            raise self._fail(f"{record[4]:,} arrays, more than the limit of {MAX_NPZ_MEMBERS:,}")
        try:
            return zipfile.ZipFile(self._fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError,
                NotImplementedError) as exc:   # e.g. "zip file version 6.4"
            raise self._fail(f"corrupt .npz archive ({brief(exc, 120)})") from None

    def _scan(self) -> dict[str, Member]:
        infos = self._zip.infolist()
        if len(infos) > MAX_NPZ_MEMBERS:
            raise self._fail(f"{len(infos):,} arrays, more than the limit of "
                             f"{MAX_NPZ_MEMBERS:,}")
        members: dict[str, Member] = {}
        for info in infos:
            member = self._header(info)
            if member.name in members:
                raise self._fail(f"the array {brief(member.name, 60)!r} appears twice")
            members[member.name] = member
        return members

    def _header(self, info: zipfile.ZipInfo) -> Member:
        label = brief(info.filename, 60)
        if not info.filename.endswith(".npy"):
            raise self._fail(f"member {label!r} is not an .npy array")
        if info.flag_bits & 0x1:
            raise self._fail(f"member {label!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self._fail(f"member {label!r} uses an unsupported compression")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise self._fail(f"member {label!r} is stored in {info.compress_size:,} bytes "
                             f"but declares {info.file_size:,}")
        if info.file_size > MAX_DEFLATE_RATIO * max(info.compress_size, 1) + 1024:
            raise self._fail(f"member {label!r} claims to expand {info.compress_size:,} "
                             f"bytes to {info.file_size:,}, which no compression can do")
        name = info.filename[:-4]
        try:
            with self._zip.open(info) as fp:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
                header = fp.tell()
        except (ValueError, SyntaxError, TypeError, EOFError, OSError, zipfile.BadZipFile,
                RuntimeError, NotImplementedError, RecursionError, zlib.error) as exc:
            raise self._fail(f"array {label!r}: bad .npy header ({brief(exc, 120)})") from None
        if dtype.hasobject:
            raise self._fail(f"array {label!r} holds Python objects (pickled data), refused")
        if dtype.kind not in _DTYPE_KINDS or dtype.names is not None or dtype.subdtype:
            raise self._fail(f"array {label!r} has dtype {brief(dtype, 60)}, expected numbers "
                             "or text")
        member = Member(name, tuple(int(n) for n in shape), dtype, bool(fortran), info, header)
        if info.file_size != header + member.nbytes:
            raise self._fail(f"array {label!r} declares {info.file_size:,} bytes, but its "
                             f"header says {member.shape} of {dtype} ({header + member.nbytes:,}"
                             " bytes)")
        return member

    def read(self, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """The arrays ``names`` (default: all), unpacked after their headers were checked."""
        names = list(self.members) if names is None else list(names)
        total = sum(self.members[n].info.file_size for n in names)
        if total > self.limit:
            raise self._fail(f"its arrays would expand to {total:,} bytes, more than the "
                             f"limit of {self.limit:,} for a file of {self.size:,} bytes")
        return {name: self._read(self.members[name]) for name in names}

    def _read(self, m: Member) -> np.ndarray:
        shape = m.shape[::-1] if m.fortran_order else m.shape
        arr = np.empty(shape, dtype=m.dtype)
        out = arr.reshape(-1).view(np.uint8) if arr.size else np.empty(0, np.uint8)
        try:
            with self._zip.open(m.info) as fp:
                fp.read(m.header_bytes)
                pos = 0
                while pos < m.nbytes:
                    chunk = fp.read(min(CHUNK, m.nbytes - pos))
                    if not chunk:
                        raise EOFError("truncated")
                    out[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
                    pos += len(chunk)
                fp.read(1)  # at the member's end: zipfile checks its CRC
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError,
                NotImplementedError, zlib.error) as exc:   # e.g. "zip file version 6.4"
            raise self._fail(f"array {brief(m.name, 60)!r} is corrupt "
                             f"({brief(exc, 120)})") from None
        return arr.T if m.fortran_order else arr

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        self._fh.close()

    def __enter__(self) -> "NpzArchive":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_npz(path: str | os.PathLike, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, checked from its headers first (see ``NpzArchive``).

    Any problem (missing, not a regular file, truncated, not a zip, corrupt member, pickled
    object, a size that makes no sense) raises a CheckpointError naming the file.
    """
    with NpzArchive(path, max_bytes) as npz:
        return npz.read()


__all__ = ["MAX_JSON_BYTES", "MAX_NPZ_BYTES", "Member", "NpzArchive", "atomic_save_npz",
           "atomic_write", "atomic_write_bytes", "atomic_write_json", "brief",
           "deferred_interrupt", "dumps_strict", "jsonable", "name_list", "open_regular",
           "printable", "quoted", "read_bounded", "read_json", "read_npz", "remove_stale_temp_files"]
