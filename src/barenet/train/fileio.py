"""Careful reads for run directories, beside the atomic writes they pair with.

The writers live in ``barenet.atomic`` (used by every feature, not only ``train``) and are
re-exported here. Reads turn every problem into a ``CheckpointError`` that names the file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import (atomic_save_npz, atomic_write, atomic_write_bytes, atomic_write_json,
                      deferred_interrupt, jsonable)
from ..errors import CheckpointError

MAX_JSON_BYTES = 64 << 20


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a JSON object from ``path``; CheckpointError naming the file on any problem."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise CheckpointError(f"{path}: {size} bytes, too large for a run's JSON file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, expected a JSON file") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        obj = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not UTF-8 text, expected JSON") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} "
                              f"column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: invalid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read eagerly with ``allow_pickle=False``.

    Any problem (missing, truncated, not a zip, corrupt member, pickled object) raises a
    CheckpointError naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: missing")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, expected an .npz file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path}: not an .npz archive (a single .npy array?)")
        with loaded as npz:
            return {key: npz[key] for key in npz.files}
    except CheckpointError:
        raise
    except PermissionError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/zlib/format errors on corrupt bytes
        raise CheckpointError(f"{path}: corrupt or not an .npz archive "
                              f"({type(exc).__name__}: {exc})") from None


__all__ = ["MAX_JSON_BYTES", "atomic_save_npz", "atomic_write", "atomic_write_bytes",
           "atomic_write_json", "deferred_interrupt", "jsonable", "read_json", "read_npz"]
