"""Reading a file of a run under the board's folder without following anything out of it.

``open_run_file(root, run, name)`` opens ``root/run/name`` for reading: ``run`` and ``name``
are single path components (no ``/``, no ``..``), neither may be a symbolic link (each is
opened relative to its parent's descriptor with ``O_NOFOLLOW``, so nothing can be swapped in
between a check and the open), and what opens must be a regular file (a FIFO never blocks: it
is opened non-blocking, then checked with ``fstat``). Every problem is a ``CheckpointError``
naming ``run/name`` in one line.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ..errors import CheckpointError

_COMMON = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_DIR = _COMMON | getattr(os, "O_DIRECTORY", 0)
_FILE = _COMMON | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_BY_DIR_FD = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW")


class Missing(CheckpointError):
    """The file (or the run's folder) does not exist."""


def _component(text: str, what: str) -> None:
    if not text or text in (".", "..") or "/" in text or "\\" in text or "\0" in text:
        raise CheckpointError(f"{text[:80]!r}: not a {what} name")


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _refused(label: str, exc: OSError, link: bool = False) -> CheckpointError:
    # O_NOFOLLOW met a symlink: ELOOP (EMLINK on FreeBSD; ENOTDIR with O_DIRECTORY on Linux)
    if link or exc.errno in (errno.ELOOP, errno.EMLINK):
        return CheckpointError(f"{label}: is a symbolic link (refused: only the run's own "
                               "files are read)")
    if exc.errno == errno.ENOENT:
        return Missing(f"{label}: missing")
    if exc.errno == errno.ENOTDIR:
        return CheckpointError(f"{label}: not a folder")
    return CheckpointError(f"{label}: cannot read ({exc.strerror or exc})")


def _open_fd(root: Path, run: str, name: str, label: str) -> int:
    """A descriptor of root/run/name, no symlink followed at ``run`` or ``name``."""
    if not _BY_DIR_FD:   # no dir_fd here: check with lstat, then open (a small race remains)
        for path in (root / run, root / run / name):
            if path.is_symlink():
                raise CheckpointError(f"{label}: is a symbolic link (refused: only the run's "
                                      "own files are read)")
        try:
            return os.open(root / run / name, _FILE & ~getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise _refused(label, exc) from None
    try:
        root_fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise CheckpointError(f"{root}: cannot open the folder ({exc.strerror or exc})") from None
    try:
        try:
            run_fd = os.open(run, _DIR, dir_fd=root_fd)
        except OSError as exc:
            raise _refused(run, exc, _is_link(run, root_fd)) from None
        try:
            return os.open(name, _FILE, dir_fd=run_fd)
        except OSError as exc:
            raise _refused(label, exc) from None
        finally:
            os.close(run_fd)
    finally:
        os.close(root_fd)


def open_run_file(root: str | os.PathLike, run: str, name: str) -> tuple[BinaryIO, os.stat_result]:
    """``(binary file, its fstat)`` of the regular file ``root/run/name``; CheckpointError
    if either part is a symlink, missing, or not what it should be (see the module's doc)."""
    _component(run, "run")
    _component(name, "file")
    label = f"{run}/{name}"
    fd = _open_fd(Path(root), run, name, label)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            what = "a directory" if stat.S_ISDIR(info.st_mode) else \
                "not a regular file (a FIFO, device or socket)"
            raise CheckpointError(f"{label}: {what}, expected a file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info
    except BaseException:
        os.close(fd)
        raise


def read_capped(fh: BinaryIO, info: os.stat_result, cap: int, label: str) -> bytes:
    """All of an opened file, refused (CheckpointError) when it holds more than ``cap`` bytes,
    by ``fstat`` or by what a read finds (a file still growing); never reads past ``cap + 1``."""
    if info.st_size > cap:
        raise CheckpointError(f"{label}: {info.st_size:,} bytes, more than the limit of "
                              f"{cap:,}")
    try:
        data = fh.read(cap + 1)
    except OSError as exc:
        raise CheckpointError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if len(data) > cap:
        raise CheckpointError(f"{label}: more than the limit of {cap:,} bytes")
    return data


def is_plain_file(root: str | os.PathLike, run: str, name: str) -> bool:
    """Whether ``root/run/name`` is a regular file reached without any symlink (lstat)."""
    try:
        if stat.S_ISLNK(os.lstat(Path(root) / run).st_mode):
            return False
        return stat.S_ISREG(os.lstat(Path(root) / run / name).st_mode)
    except OSError:
        return False


__all__ = ["Missing", "is_plain_file", "open_run_file", "read_capped"]
