"""Verified arrays kept in memory: a dataset file is read and checked once per state on disk.

Keys are (resolved path, mtime, size, expected sha256, kind), so a file replaced on disk is
read again; at most ``CACHE_SIZE`` arrays are kept (the oldest go first), all read-only.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import DataError

CACHE_SIZE = 8
_CACHE: dict[tuple, np.ndarray] = {}
LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every array kept in memory by ``load_dataset``."""
    with LOCK:
        _CACHE.clear()


def cache_key(path: Path, expected: str, kind: str) -> tuple:
    """The key of ``path`` as it is on disk now; DataError if it cannot be read."""
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return (str(path.resolve()), st.st_mtime_ns, st.st_size, expected, kind)


def recall(key: tuple) -> np.ndarray | None:
    """The array kept under ``key``, or None."""
    with LOCK:
        return _CACHE.get(key)


def remember(key: tuple, array: np.ndarray) -> np.ndarray:
    """Keep ``array`` (made read-only) under ``key``; returns it."""
    array.setflags(write=False)
    with LOCK:
        while len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = array
    return array


__all__ = ["CACHE_SIZE", "LOCK", "cache_key", "clear_cache", "recall", "remember"]
