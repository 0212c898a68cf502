"""Opening a file from outside without trusting what it is: only regular files are read.

A FIFO named like a data file would block a plain ``open`` forever, and a device could be read
without end. ``open_regular`` opens with O_NONBLOCK (a FIFO never blocks), then checks with
``fstat`` that the opened object is a regular file, so nothing can swap it in between.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | \
    getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)


def open_regular(path: str | os.PathLike, expected: str, error: type[Exception],
                 missing: str = "missing") -> tuple[BinaryIO, int]:
    """``(binary file, size in bytes)`` of ``path`` if it is a regular file; otherwise
    ``error("PATH: ...")``, one line saying what it is and that ``expected`` was expected
    (e.g. "a picture file"). ``missing`` is the message for a path that does not exist."""
    name = os.fspath(path)
    try:
        fd = os.open(name, _FLAGS)
    except FileNotFoundError:
        raise error(f"{name}: {missing}") from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{name}: is a directory, expected {expected}")
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{name}: not a regular file (a FIFO, device or socket), "
                        f"expected {expected}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise
