"""Claiming a directory before writing into it, so two processes never share one.

``claim_dir(path)`` creates ``path`` if needed and puts a lock file in it, ``.barenet.lock``
(JSON: pid, host, start time), holding an exclusive ``fcntl.flock`` on it until ``release()``
(or the end of a ``with`` block) removes it. The lock file appears already locked: it is written
and locked under a temporary name, then ``os.link``-ed into place, which fails if the name
exists (like ``O_CREAT | O_EXCL``), so a second process always finds it held.

A claim left by a process that died (killed, crashed, power cut) is stale: the kernel dropped
its flock. The next ``claim_dir`` takes it over, after checking that the lock file it locked is
still the one in the directory, so of two processes racing for a stale claim only one wins.
Where flock is unavailable (some network file systems) the recorded pid is checked instead.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import ConfigError

LOCK = ".barenet.lock"
MAX_LOCK_BYTES = 4096
BUSY_TRIES, BUSY_WAIT = 4, 0.05   # a lock found held is asked again, 0.05 s apart


class DirInUse(ConfigError):
    """Another live process holds the claim on a directory."""


def _flock(fd: int) -> bool | None:
    """Lock ``fd`` exclusively without waiting: True if locked, False if another open file
    holds the lock, None where flock is unavailable."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:  # ENOLCK, EOPNOTSUPP: a file system without flock
        return None


def _read_info(fd: int) -> dict[str, Any]:
    """The JSON record of an open lock file ({} if unreadable)."""
    try:
        data = os.pread(fd, MAX_LOCK_BYTES, 0)
        info = json.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _pid_alive(info: dict[str, Any]) -> bool:
    """True if ``info`` names a live process on this host (the fallback without flock)."""
    pid = info.get("pid")
    if info.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def in_use(path: Path, info: dict[str, Any]) -> DirInUse:
    """The error for ``path`` claimed by the process that ``info`` (a lock record) names."""
    pid, host = info.get("pid", "?"), info.get("host", "?")
    since = info.get("since")
    when = f" since {since}" if isinstance(since, str) else ""
    return DirInUse(f"{path}: in use by process {pid} on {host}{when}; wait for it to finish "
                    "or choose another directory")


class Claim:
    """A held claim on ``path`` (see the module docstring). ``created``: whether claiming
    created the directory. ``release()`` removes the lock file, and the directory too when
    the claim created it and nothing was written into it."""

    def __init__(self, path: Path, fd: int, created: bool) -> None:
        self.path, self._fd, self.created = path, fd, created

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the directory up (idempotent)."""
        if self._fd is None:
            return
        lock = self.path / LOCK
        try:
            if os.stat(lock).st_ino == os.fstat(self._fd).st_ino:
                os.unlink(lock)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None
        if self.created:
            try:
                self.path.rmdir()  # only if empty: nothing was written
            except OSError:
                pass

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __del__(self) -> None:  # a claim dropped without release still frees the directory
        try:
            self.release()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


def _make_lock(path: Path, replace: bool = False) -> int:
    """Write and lock our record under a temporary name, then put it in place as LOCK:
    ``os.link`` (FileExistsError if LOCK exists) or, to displace a stale one, ``os.replace``.
    Returns the fd, which holds the flock."""
    tmp = path / f"{LOCK}.{uuid.uuid4().hex[:12]}.tmp"
    fd = _locked_record(tmp)
    try:
        if replace:
            os.replace(tmp, path / LOCK)
            return fd
        try:
            os.link(tmp, path / LOCK)
        except FileExistsError:
            raise
        except OSError:  # no hard links here (FAT, some FUSE): create the name exclusively
            os.close(fd)
            fd = -1
            fd = _locked_record(path / LOCK)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        _unlink(tmp)
        raise
    _unlink(tmp)
    return fd


def _locked_record(name: Path) -> int:
    """Create ``name`` (never an existing file), lock it and write our record into it."""
    fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _flock(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.write(fd, json.dumps(info).encode("utf-8"))
    except BaseException:
        os.close(fd)
        _unlink(name)
        raise
    return fd


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _try_take_over(path: Path) -> int | None:
    """Take over a stale LOCK: the fd of our new lock, or None if LOCK changed meanwhile (try
    again); DirInUse if a live process holds it."""
    lock = path / LOCK
    try:
        fd = os.open(lock, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        got = _flock(fd)
        info = _read_info(fd)
        if got is False or (got is None and _pid_alive(info)):
            raise in_use(path, info)
        try:  # the file we locked must still be the lock file, else someone replaced it
            if os.stat(lock).st_ino != os.fstat(fd).st_ino:
                return None
        except FileNotFoundError:
            return None
        return _make_lock(path, replace=True)  # displaced while we hold the stale one's lock
    finally:
        os.close(fd)


def claim_dir(path: str | os.PathLike) -> Claim:
    """Claim directory ``path`` (created with its parents if absent) for this process.

    Raises DirInUse (a ConfigError) naming the holder if a live process has claimed it, and
    ConfigError if ``path`` is not a directory or cannot be created. Use as a context manager
    or call ``release()``.
    """
    path = Path(path)
    created = False
    if not path.is_dir():  # another process may create it meanwhile: mkdir decides
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir()
            created = True
        except FileExistsError:
            if not path.is_dir():
                raise ConfigError(f"{path}: exists and is not a directory") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot create ({exc.strerror or exc})") from None
    try:
        return _claim(path, created)
    except BaseException as exc:
        if created:
            try:
                path.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise ConfigError(f"{path}: cannot claim ({exc.strerror or exc})") from None
        raise


def _claim(path: Path, created: bool) -> Claim:
    busy = 0
    for _ in range(100):
        try:
            return Claim(path, _make_lock(path), created)
        except FileExistsError:
            pass
        try:
            fd = _try_take_over(path)
        except DirInUse:
            busy += 1   # a holder, or only someone looking (``claim_holder``): ask again
            if busy >= BUSY_TRIES:
                raise
            time.sleep(BUSY_WAIT)
            continue
        if fd is not None:
            return Claim(path, fd, created)
    raise DirInUse(f"{path}: its claim keeps changing hands; try again")


def claim_holder(path: str | os.PathLike) -> dict[str, Any] | None:
    """Who holds the claim on ``path`` ({pid, host, since}), or None if nobody alive does."""
    lock = Path(path) / LOCK
    try:
        fd = os.open(lock, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        info = _read_info(fd)
        got = _flock(fd)
        if got is True:
            return None
        if got is None and not _pid_alive(info):
            return None
        return info or {"pid": "?", "host": "?"}
    finally:
        os.close(fd)


__all__ = ["LOCK", "Claim", "DirInUse", "claim_dir", "claim_holder", "in_use"]
