"""Writing a .safetensors file byte for byte as the reference implementation does.

The tensors are laid out largest alignment first (the dtype order of ``safetensors.ORDER``,
reversed), then by name, so that with the header padded to a multiple of 8 bytes every tensor
starts at a multiple of its item size; the header is compact JSON with the metadata first.
For the same tensors (and at most one metadata key, whose order the reference leaves to a hash
map) the bytes are those of ``safetensors.numpy.save_file``. The file is written atomically
(``barenet.atomic``): a temporary file, then a rename.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Mapping

import numpy as np

from ..atomic import atomic_write
from ..errors import ConfigError, brief
from .safetensors import DTYPES, MAX_HEADER_BYTES, METADATA, ORDER, encode_header, show

#: NumPy dtype (native order) -> the format's name; BF16 has no NumPy dtype and is never written
NAMES: dict[np.dtype, str] = {dt.newbyteorder("="): name for name, dt in DTYPES.items()
                              if name != "BF16"}


def _check(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None,
           path: Path) -> list[tuple[str, str, np.ndarray]]:
    """(name, dtype name, little-endian C-order array) per tensor; ConfigError otherwise."""
    if not isinstance(tensors, Mapping):
        raise ConfigError(f"{path}: tensors must be a dict of name -> array, got "
                          f"{type(tensors).__name__}")
    if metadata is not None and (not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise ConfigError(f"{path}: metadata must be a dict of strings to strings, got "
                          f"{brief(repr(metadata), 80)}")
    out = []
    for name, value in tensors.items():
        if not isinstance(name, str) or name == METADATA:
            raise ConfigError(f"{path}: tensor name {brief(repr(name), 60)} is not allowed, "
                              f"expected a string other than {METADATA}")
        if not isinstance(value, (np.ndarray, np.generic)):
            raise ConfigError(f"{path}: tensor {show(name)} is a {type(value).__name__}, "
                              "expected a NumPy array")
        arr = np.asarray(value)
        dtype = NAMES.get(arr.dtype.newbyteorder("="))
        if dtype is None:
            raise ConfigError(f"{path}: tensor {show(name)} has dtype {brief(arr.dtype, 40)}, "
                              f"expected one of {', '.join(sorted(set(NAMES.values())))}")
        out.append((name, dtype, np.asarray(arr, DTYPES[dtype], order="C")))
    out.sort(key=lambda item: (-ORDER.index(item[1]), item[0]))
    return out


def save_safetensors(tensors: Mapping[str, np.ndarray], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``tensors`` (name -> NumPy array of bool, uint8/16/32/64, int8/16/32/64,
    float16/32/64 or complex64; scalars and empty arrays too) to ``path`` as a .safetensors
    file, with ``metadata`` (strings to strings) as its ``__metadata__``; returns the path.

    Written atomically, replacing ``path`` if it exists. Raises ConfigError for a name, array
    or metadata the format cannot hold; an OSError naming the file if it cannot be written.
    """
    path = Path(path)
    items = _check(tensors, metadata, path)
    entries, offset = [], 0
    for name, dtype, arr in items:
        entries.append((name, dtype, arr.shape, offset, offset + arr.nbytes))
        offset += arr.nbytes
    try:
        header = encode_header(entries, None if metadata is None else dict(metadata))
    except UnicodeEncodeError:
        raise ConfigError(f"{path}: a tensor name or metadata string is not valid Unicode "
                          "text (a lone surrogate?)") from None
    if len(header) > MAX_HEADER_BYTES:
        raise ConfigError(f"{path}: the header would take {len(header):,} bytes, more than "
                          f"the format's limit of {MAX_HEADER_BYTES:,}")

    def write(fh: BinaryIO) -> None:
        fh.write(len(header).to_bytes(8, "little"))
        fh.write(header)
        for _, _, arr in items:
            fh.write(memoryview(arr.reshape(-1).view(np.uint8)))

    return atomic_write(path, write)


__all__ = ["NAMES", "save_safetensors"]
