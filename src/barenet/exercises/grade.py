"""``check(name, cls)``: grade a class as one exercise, with the engine its kind needs."""
from __future__ import annotations

from .catalogue import NAMES, info
from .registry import spec_of
from .result import Result


def check(name: str, cls: type) -> Result:
    """Grade the class ``cls`` as exercise ``name`` (one of ``NAMES``); returns a
    :class:`~barenet.exercises.result.Result`, which shows itself as PASS/FAIL lines.

    ``status`` is "not written" while a method still raises NotImplementedError; an exception
    from ``cls`` becomes a failed check naming the method and the learner's file:line, never a
    traceback. ValueError for an unknown ``name``, TypeError when ``cls`` is not a class.
    """
    if name not in NAMES:
        raise ValueError(f"unknown exercise {name!r}, expected one of: {', '.join(NAMES)}")
    if not isinstance(cls, type):
        raise TypeError(f"check({name!r}, cls): expected a class, got {type(cls).__name__}")
    spec = spec_of(name)
    if info(name).kind == "optimizer":
        from .optim_engine import check_optimizer

        return check_optimizer(spec, cls)
    from .engine import check_spec

    return check_spec(spec, cls)
