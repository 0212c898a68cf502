"""Read and write IDX files (the MNIST format), plain or gzip-compressed, validating everything.

An IDX file is a 4-byte magic number ``00 00 <dtype code> <ndim>``, then ``ndim`` big-endian
uint32 dimensions, then the values in C order, big-endian. Compression is detected from the
gzip magic bytes ``1f 8b``, not from the file name. Every problem raises ``IDXError`` whose
message starts with the file's path and says what was expected.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import IDXError
from ..regular_file import open_regular

#: IDX dtype code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES: dict[str, int] = {f"{dt.kind}{dt.itemsize}": code for code, dt in IDX_DTYPES.items()}
#: Refuse headers whose payload would exceed this many bytes (2 GiB): a corrupt or hostile
#: header must not make the reader allocate absurd amounts of memory.
MAX_BYTES = 2**31
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_CODE_LIST = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)


def _read_exactly(stream: BinaryIO, buf: memoryview) -> int:
    """Fill ``buf`` from ``stream``; returns how many bytes were read (less only at end of file)."""
    done = 0
    while done < len(buf):
        n = stream.readinto(buf[done:done + _CHUNK])
        if not n:
            break
        done += n
    return done


def _payload_kind(code: int, ndim: int) -> str:
    if code == 0x08 and ndim == 3:
        return "pixels"
    if ndim == 1:
        return "labels"
    return "data"


def _parse(stream: BinaryIO, name: str, max_bytes: int, digest) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4:
        what = "empty file" if not head else f"truncated header, got {len(head)} of 4 magic bytes"
        raise IDXError(f"{name}: {what}, expected an IDX magic number 00 00 <type> <ndim>")
    if head[0] != 0 or head[1] != 0:
        raise IDXError(f"{name}: not an IDX file, first two bytes are {head[:2].hex(' ')}, "
                       f"expected 00 00")
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise IDXError(f"{name}: unknown IDX dtype code 0x{code:02X}, expected one of {_CODE_LIST}")
    if ndim == 0:
        raise IDXError(f"{name}: IDX header declares 0 dimensions, expected at least 1")
    raw_dims = stream.read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise IDXError(f"{name}: truncated header, expected {4 * ndim} bytes of dimensions "
                       f"for {ndim} dims, got {len(raw_dims)}")
    dims = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    count = 1
    for d in dims:
        count *= d
    nbytes = count * dtype.itemsize
    if nbytes > max_bytes:
        raise IDXError(f"{name}: header claims shape {dims} ({nbytes} bytes), "
                       f"more than the limit of {max_bytes} bytes")
    out = np.empty(count, dtype=dtype)
    got = _read_exactly(stream, memoryview(out.view(np.uint8)))
    if got < nbytes:  # sizes of the whole (decompressed) file, header included
        size = 4 + len(raw_dims)
        raise IDXError(f"{name}: truncated, expected {size + nbytes} bytes of "
                       f"{_payload_kind(code, ndim)}, got {size + got}")
    extra = 0
    while True:  # read to the end: also makes gzip check its CRC and length trailer
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        extra += len(chunk)
        if extra > _CHUNK:
            break
    if extra:
        more = f"more than {_CHUNK}" if extra > _CHUNK else str(extra)
        raise IDXError(f"{name}: {more} unexpected bytes after the {nbytes} bytes of "
                       f"{_payload_kind(code, ndim)} declared by the header {dims}")
    if digest is not None:
        digest.update(head)
        digest.update(raw_dims)
        digest.update(memoryview(out.view(np.uint8)))
    if dtype.itemsize > 1:
        out = out.astype(dtype.newbyteorder("="))
    else:
        out = out.view(dtype.newbyteorder("="))
    return out.reshape(dims)


def read_idx_with_sha256(path: str | os.PathLike, max_bytes: int = MAX_BYTES
                         ) -> tuple[np.ndarray, str]:
    """Read an IDX file and return ``(array, sha256 hex of the decompressed IDX bytes)``."""
    digest = hashlib.sha256()
    return _read(path, max_bytes, digest), digest.hexdigest()


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read an IDX file (gzip detected by its magic bytes) into a native-endian array.

    Returns an array of the header's shape, dtype uint8/int8/int16/int32/float32/float64.
    Raises ``IDXError`` naming the file on any malformation: bad magic, unknown dtype code,
    truncated header or payload, trailing bytes, corrupt gzip, or a header over ``max_bytes``.
    """
    return _read(path, max_bytes, None)


def _read(path: str | os.PathLike, max_bytes: int, digest) -> np.ndarray:
    name = os.fspath(path)
    try:
        f, _ = open_regular(name, "an IDX file", IDXError, missing="file not found")
        with f:
            if f.read(2) == _GZIP_MAGIC:
                f.seek(0)
                try:
                    with gzip.GzipFile(fileobj=f, mode="rb") as gz:
                        return _parse(gz, name, max_bytes, digest)
                except EOFError as exc:
                    raise IDXError(f"{name}: corrupt gzip stream, compressed data ends early "
                                   f"({exc})") from None
                except zlib.error as exc:
                    raise IDXError(f"{name}: corrupt gzip stream ({exc})") from None
                except gzip.BadGzipFile as exc:
                    what = "corrupt gzip stream" if "CRC" in str(exc) or "length" in str(exc) \
                        else "not a valid gzip file"
                    raise IDXError(f"{name}: {what} ({exc})") from None
            f.seek(0)
            return _parse(f, name, max_bytes, digest)
    except IDXError:
        raise
    except OSError as exc:
        raise IDXError(f"{name}: cannot read ({exc.strerror or exc})") from None


def write_idx(path: str | os.PathLike, array: np.ndarray, compresslevel: int = 6) -> None:
    """Write ``array`` as an IDX file, gzip-compressed if the name ends with ``.gz``.

    Supported dtypes: uint8, int8, int16, int32, float32, float64; at least one dimension, each
    below 2**32. The file is written to a temporary name in the same directory and renamed into
    place, so a reader never sees a half-written file.
    """
    name = os.fspath(path)
    arr = np.asarray(array)
    code = _CODES.get(f"{arr.dtype.kind}{arr.dtype.itemsize}")
    if code is None:
        raise IDXError(f"{name}: cannot write dtype {arr.dtype} as IDX, expected one of "
                       f"uint8, int8, int16, int32, float32, float64")
    if arr.ndim == 0 or arr.ndim > 255:
        raise IDXError(f"{name}: cannot write a {arr.ndim}-dimensional array as IDX, "
                       f"expected 1 to 255 dimensions")
    if any(d >= 2**32 for d in arr.shape):
        raise IDXError(f"{name}: dimension too large for IDX in shape {arr.shape}, "
                       f"expected each below 2**32")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(arr, dtype=IDX_DTYPES[code])
    target = Path(name)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as raw:
            if name.endswith(".gz"):
                with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=compresslevel,
                                   mtime=0, filename="") as gz:
                    gz.write(header)
                    gz.write(memoryview(payload.reshape(-1).view(np.uint8)))
            else:
                raw.write(header)
                raw.write(memoryview(payload.reshape(-1).view(np.uint8)))
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_labels(path: str | os.PathLike, num_classes: int = 10) -> np.ndarray:
    """Read a 1-D uint8 IDX label file and check every label is in ``[0, num_classes)``.

    Returns int64 (N,). The error names the first bad index and its value.
    """
    raw = read_idx(path)
    name = os.fspath(path)
    if raw.ndim != 1 or raw.dtype != np.uint8:
        raise IDXError(f"{name}: expected 1-D uint8 labels, got shape {raw.shape} of {raw.dtype}")
    return check_labels(raw, num_classes, name)


def check_labels(labels: np.ndarray, num_classes: int, name: str) -> np.ndarray:
    """Return ``labels`` as int64 after checking each is in ``[0, num_classes)``."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise IDXError(f"{name}: label {int(labels[i])} at index {i} is out of range, expected "
                       f"0..{num_classes - 1} ({bad.size} bad labels in all)")
    return labels.astype(np.int64)


def read_images(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a 3-D uint8 IDX image file: uint8 (N, rows, cols), checked against ``size`` if given."""
    images = read_idx(path)
    check_images(images, os.fspath(path), size)
    return images


def check_images(images: np.ndarray, name: str, size: tuple[int, int] | None = None) -> None:
    """Raise IDXError unless ``images`` is uint8 (N, rows, cols) with (rows, cols) == size."""
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXError(f"{name}: expected 3-D uint8 images, "
                       f"got shape {images.shape} of {images.dtype}")
    if size is not None and tuple(images.shape[1:]) != tuple(size):
        raise IDXError(f"{name}: expected {size[0]}x{size[1]} images, "
                       f"got {images.shape[1]}x{images.shape[2]}")


def check_same_count(images: np.ndarray, labels: np.ndarray,
                     images_name: str, labels_name: str) -> None:
    """Raise IDXError if the image and label files hold different numbers of samples."""
    if len(images) != len(labels):
        raise IDXError(f"{images_name}: holds {len(images)} images but {labels_name} holds "
                       f"{len(labels)} labels, expected the same count")
