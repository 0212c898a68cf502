"""Calling a learner's code: NotImplementedError means "not written yet", any other exception
becomes one line naming the method, the error and the learner's file:line (never a traceback).
"""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Callable

from ..errors import brief

#: files of the library itself, skipped when looking for the learner's line
_LIBRARY = ("/barenet/nn/", "/barenet/optim/", "/barenet/exercises/", "/numpy/")


class NotWritten(Exception):
    """A method of the learner's class still raises NotImplementedError."""


class LearnerError(Exception):
    """A method of the learner's class raised; the message is one line."""


def _short(filename: str) -> str:
    """``filename`` relative to the working directory when it lies below it."""
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return filename


def where(exc: BaseException) -> str:
    """``file:line`` of the innermost frame outside barenet and NumPy ('' if none)."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = frame.filename.replace("\\", "/")
        if not any(part in path for part in _LIBRARY):
            return f"{_short(frame.filename)}:{frame.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def call(fn: Callable[..., Any], what: str, *args: Any) -> Any:
    """``fn(*args)``, with NotImplementedError as :class:`NotWritten` and any other exception
    as :class:`LearnerError` naming ``what`` (``"forward"``, ``"backward"``, ...)."""
    try:
        return fn(*args)
    except NotImplementedError as exc:
        raise NotWritten(f"{what} raises NotImplementedError: write it"
                         f"{' (' + where(exc) + ')' if where(exc) else ''}") from None
    except Exception as exc:  # the learner's bug, reported in one line
        at = where(exc)
        raise LearnerError(f"{what} raised {type(exc).__name__}: {brief(exc, 160)}"
                           f"{' at ' + at if at else ''}") from None
