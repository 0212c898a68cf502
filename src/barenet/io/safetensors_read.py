"""Reading a .safetensors file as hostile input: the header first, then only what it promises.

``SafetensorsFile(path)`` opens the file (a regular file, never through a symbolic link: a
FIFO, a device, a directory or a link is refused in one line), reads the 8-byte length and
the header with bounded reads, and checks the header against the file's size
(``safetensors.parse_header``) before any tensor is read. ``tensors`` then says what the file
holds; ``read(names)`` reads those tensors, each straight into its own array (``readinto``,
in chunks), so what is allocated is at most what the file holds. ``load_safetensors`` does
both at once.

Arrays come back in native byte order and C order, with the file's dtype, except BF16, which
NumPy has no type for: it is widened to float32 exactly (a bfloat16 is the top 16 bits of a
float32). A BOOL byte other than 0 or 1 is refused.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, BinaryIO, Iterable

import numpy as np

from .. import regular_file
from .safetensors import (
    DTYPES,
    MAX_HEADER_BYTES,
    SafetensorsError,
    TensorInfo,
    parse_header,
    show,
)

MAX_FILE_BYTES = 2 << 30   # default limit on a file's size (the largest a barenet run loads)
CHUNK = 1 << 22            # bytes read at a time
EXPECTED = "a .safetensors file"


def open_no_link(path: str | os.PathLike, expected: str = EXPECTED) -> tuple[BinaryIO, int]:
    """``(binary file, size)`` of ``path`` if it is a regular file and not a symbolic link;
    SafetensorsError naming it otherwise. The link test (``lstat``) and the opened file
    (``fstat``) must be the same file, so nothing can be swapped in between."""
    name = os.fspath(path)
    try:
        before = os.lstat(name)
    except FileNotFoundError:
        raise SafetensorsError(f"{name}: no such file") from None
    except OSError as exc:
        raise SafetensorsError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISLNK(before.st_mode):
        try:
            target = os.readlink(name)
        except OSError:
            target = "?"
        raise SafetensorsError(f"{name}: a symbolic link (to {show(target, 80)}), expected "
                               f"{expected}; give the file it points to")
    fh, size = regular_file.open_regular(name, expected, SafetensorsError, "no such file")
    after = os.fstat(fh.fileno())
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        fh.close()
        raise SafetensorsError(f"{name}: changed while it was opened; expected {expected}")
    return fh, size


class SafetensorsFile:
    """A .safetensors file opened and its header checked, nothing else read yet.

    Attributes: ``path``, ``size`` (bytes), ``tensors`` (name -> ``TensorInfo``, in offset
    order), ``metadata`` (the ``__metadata__`` strings, or None), ``data_start`` (8 + N).
    ``read(names=None)`` reads tensors. Use as a context manager. ``max_bytes`` caps the
    file's size. Every problem is a SafetensorsError naming the file.
    """

    def __init__(self, path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.path = Path(path)
        self._fh, self.size = open_no_link(self.path)
        try:
            self._read_header(max_bytes)
        except BaseException:
            self._fh.close()
            raise

    def _fail(self, what: str) -> SafetensorsError:
        return SafetensorsError(f"{self.path}: {what}")

    def _read_header(self, max_bytes: int) -> None:
        if self.size > max_bytes:
            raise self._fail(f"{self.size:,} bytes, more than the limit of {max_bytes:,}")
        if self.size < 8:
            raise self._fail(f"{self.size} bytes, too short for the 8-byte header length "
                             "that starts a .safetensors file")
        n = int.from_bytes(self._exactly(8, "the header length"), "little")
        if n > MAX_HEADER_BYTES:
            raise self._fail(f"the header length says {n:,} bytes, more than the limit of "
                             f"{MAX_HEADER_BYTES:,} (is it a .safetensors file?)")
        if 8 + n > self.size:
            raise self._fail(f"the header length says {n:,} bytes but only {self.size - 8:,} "
                             "follow it (truncated, or not a .safetensors file)")
        self.data_start = 8 + n
        self.tensors, self.metadata = parse_header(
            self._exactly(n, "the header"), self.size - self.data_start, str(self.path))

    def _exactly(self, n: int, what: str) -> bytes:
        try:
            data = self._fh.read(n)
        except OSError as exc:
            raise self._fail(f"cannot read ({exc.strerror or exc})") from None
        if len(data) != n:
            raise self._fail(f"truncated in {what} (the file shrank while it was read)")
        return data

    def read(self, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """The tensors ``names`` (default: all, in offset order) as NumPy arrays."""
        names = list(self.tensors) if names is None else list(names)
        unknown = [n for n in names if n not in self.tensors]
        if unknown:
            raise self._fail(f"holds no tensor {show(unknown[0])}")
        return {name: self._read(self.tensors[name]) for name in names}

    def _read(self, t: TensorInfo) -> np.ndarray:
        arr = np.empty(t.shape, DTYPES[t.dtype])
        out = memoryview(arr.reshape(-1).view(np.uint8))
        try:
            self._fh.seek(self.data_start + t.begin)
            pos = 0
            while pos < t.nbytes:
                got = self._fh.readinto(out[pos:pos + CHUNK])
                if not got:
                    raise self._fail(f"truncated in tensor {show(t.name)} (the file shrank "
                                     "while it was read)")
                pos += got
        except OSError as exc:
            raise self._fail(f"cannot read ({exc.strerror or exc})") from None
        return self._finish(t, arr)

    def _finish(self, t: TensorInfo, arr: np.ndarray) -> np.ndarray:
        """Native byte order; BF16 widened to float32; BOOL bytes checked."""
        if t.dtype == "BF16":
            return (arr.astype(np.uint32) << 16).view(np.float32)
        if t.dtype == "BOOL" and arr.view(np.uint8).max(initial=0) > 1:
            raise self._fail(f"tensor {show(t.name)} is BOOL but holds a byte other than 0 "
                             "or 1")
        return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "SafetensorsFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_safetensors(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES
                     ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``(tensors, metadata)`` of a .safetensors file: every tensor by name (in offset
    order) and the ``__metadata__`` strings ({} when it has none). The file is checked from
    its header before anything is read (see ``SafetensorsFile``); a file over ``max_bytes``
    is refused. BF16 tensors come back as float32 (exact). Raises SafetensorsError, one
    line naming the file, on any problem."""
    with SafetensorsFile(path, max_bytes) as f:
        return f.read(), dict(f.metadata or {})


__all__ = ["MAX_FILE_BYTES", "SafetensorsFile", "load_safetensors", "open_no_link"]
