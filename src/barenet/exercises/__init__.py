"""barenet.exercises: write a layer's backward yourself and have it graded.

``barenet exercises start NAME`` writes a stub file; ``check(NAME, cls)`` (or ``barenet
exercises check FILE``) grades a class against barenet's own layer, optimizer or loss and
against numerical gradients, and names the mistake when it recognises one::

    import barenet.exercises
    result = barenet.exercises.check("linear", Linear)   # a Result; shows PASS/FAIL lines
    result.status            # "passed", "failed" or "not written"
    result.to_dict()         # {"exercise", "file", "status", "checks": [...]}

Nothing here prints: a ``Result`` displays itself as PASS/FAIL lines (``str(result)``, or the
last value of a notebook cell); ``result.assert_passed()`` raises with that report.
The list of exercises, their classes and constructor signatures: ``catalogue.py``.
"""
from __future__ import annotations

from .catalogue import CATALOGUE, NAMES, ExerciseInfo, info
from .grade import check
from .files import ExerciseError, check_file, check_path, find_exercise_files, write_stub
from .result import FAILED, NOT_WRITTEN, PASSED, Check, Result
from .stubs import stub_text


__all__ = ["CATALOGUE", "NAMES", "ExerciseInfo", "info", "check", "check_file", "check_path",
           "find_exercise_files", "write_stub", "stub_text", "ExerciseError", "Check", "Result",
           "PASSED", "FAILED", "NOT_WRITTEN"]
