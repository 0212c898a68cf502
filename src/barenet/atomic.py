"""Atomic file writes: the one way barenet writes a file.

Every write goes to a hidden temporary file in the destination's directory, is flushed to disk,
then renamed over the destination with ``os.replace`` (atomic on POSIX and Windows), so a crash
or Ctrl-C leaves either the old file or the new one, never half of one. Ctrl-C during a write is
held back until the file is in place. Run directories, results, figures: all go through
``atomic_write``. A failed write raises an OSError whose ``filename`` is the file it was writing.

Temporary files are named ``.<name>.<pid>-<12 hex>.tmp`` (older barenet: ``.<name>.<12 hex>.tmp``),
where a name longer than 65 bytes is shortened to its first and last 32 bytes joined by ``~``
(``_short_name``), so that any name a file system accepts (up to 255 bytes) also has a
temporary name it accepts; the destination keeps its full name.
A write killed outright (SIGKILL, power loss) leaves one behind; ``remove_stale_temp_files``,
called whenever a run directory is written, removes those last modified more than
``STALE_SECONDS`` (an hour) ago. Age is the rule, not the writer's pid: a pid says nothing
on another machine sharing the directory, and pids are reused. A live write touches its file
continuously and takes seconds, so an hour-old temporary file has no writer; if one did (a
process stopped for an hour mid-write), its rename fails and names the file, and the previous
file is intact.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import stat
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import numpy as np


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold back SIGINT (Ctrl-C) while the block runs; deliver it afterwards.

    Outside the main thread (where signal handlers cannot be set) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    try:
        old = signal.signal(signal.SIGINT, lambda sig, frame: received.append(sig))
    except (ValueError, OSError):  # pragma: no cover - e.g. an embedded interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if received:
        if old is signal.default_int_handler:
            raise KeyboardInterrupt
        if callable(old):
            old(signal.SIGINT, None)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` atomically: ``write(fh)`` fills a temporary file that then replaces it.

    On any failure the temporary file is removed and the previous ``path`` (if any) is intact.
    """
    path = Path(path)
    tmp = path.with_name(f".{_short_name(path.name)}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
    with deferred_interrupt():
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            if isinstance(exc, OSError) and exc.filename != str(path):
                raise _naming(exc, path) from None
            raise
    return path


#: Bytes of a destination name's start and end kept in its temporary name
_KEPT = 32


def _short_name(name: str) -> str:
    """``name`` if at most 2 * _KEPT + 1 bytes, else its first and last _KEPT bytes (whole
    characters) joined by ``~``: the start for a reader, the end (the extension, a figure's
    ``_explain.png``) for the patterns that tell barenet's files apart."""
    if len(os.fsencode(name)) <= 2 * _KEPT + 1:
        return name
    head, tail = name[:_KEPT], name[-_KEPT:]
    while len(os.fsencode(head)) > _KEPT:
        head = head[:-1]
    while len(os.fsencode(tail)) > _KEPT:
        tail = tail[1:]
    return f"{head}~{tail}"


def check_replaceable(paths: Iterable[str | os.PathLike], overwrite: bool,
                      option: str = "--out") -> list[Path]:
    """``paths`` as Paths if a command may write them all; ConfigError in one line otherwise,
    before any work. A path that exists (a dangling symlink included) is refused unless
    ``overwrite``; even then a directory is never replaced. A symlink is never written through:
    ``atomic_write`` replaces the link itself, so nothing outside its directory changes."""
    from .errors import ConfigError

    paths = [Path(p) for p in paths]
    existing = []
    for path in paths:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"{path}: cannot check it ({exc.strerror or exc})") from None
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"{path}: is a directory; not replacing it with a file")
        existing.append(path)
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ConfigError(f"{existing[0]}: already exists{more}; choose another {option}, or "
                          "replace it with --overwrite")
    return paths


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` as the same kind of OSError, its ``filename`` the file being written."""
    if exc.errno is None:
        return OSError(f"{path}: {exc}")
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


#: Seconds after which a temporary file of ``atomic_write`` has no writer left.
STALE_SECONDS = 3600
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.(?:\d+-)?[0-9a-f]{12}\.tmp")


def remove_stale_temp_files(directory: str | os.PathLike,
                            older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove the temporary files that killed writes left in ``directory``: regular files
    named as ``atomic_write`` names them, last modified more than ``older_than`` seconds ago.
    Returns the paths removed; a file that cannot be removed is left, silently."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not _TEMP_NAME.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > older_than:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return atomic_write(path, lambda fh: fh.write(data))


def jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON accepts: NumPy scalars and arrays become Python
    values and lists; non-finite floats become None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented, strict JSON (non-finite floats as null)."""
    text = json.dumps(jsonable(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Atomically write ``arrays`` as an uncompressed ``.npz`` (no pickled objects)."""
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.dtype.hasobject:
            raise TypeError(f"{Path(path).name}: {key!r} is not a plain NumPy array")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_write_bytes(path, buf.getvalue())


__all__ = ["STALE_SECONDS", "atomic_save_npz", "atomic_write", "atomic_write_bytes",
           "atomic_write_json", "check_replaceable", "deferred_interrupt", "jsonable",
           "remove_stale_temp_files"]
