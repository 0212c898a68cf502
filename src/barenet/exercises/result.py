"""What a check returns: one :class:`Check` per quantity and a :class:`Result` per exercise.

A ``Result`` shows itself as PASS/FAIL lines: ``str(result)``, or the value of the last line
of a notebook cell (``_repr_pretty_`` for IPython). Nothing here prints.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASSED, FAILED, NOT_WRITTEN = "passed", "failed", "not written"


@dataclass
class Check:
    """One named check (``"dL/dweight"``, ``"output"``, ...): passed or not, and why."""

    name: str
    passed: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message}

    def line(self) -> str:
        """``PASS name`` or ``FAIL name: message``."""
        if self.passed:
            return f"PASS {self.name}"
        return f"FAIL {self.name}: {self.message}" if self.message else f"FAIL {self.name}"


@dataclass
class Result:
    """The grade of one exercise: ``status`` is ``"passed"``, ``"failed"`` or ``"not written"``;
    ``checks`` in the order they ran; ``file`` the graded file (None for a class checked in
    Python)."""

    exercise: str
    status: str
    checks: list[Check] = field(default_factory=list)
    file: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` record: exercise, file, status and every check."""
        return {"exercise": self.exercise, "file": self.file, "status": self.status,
                "checks": [c.to_dict() for c in self.checks]}

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def report(self) -> str:
        """One headline and one PASS/FAIL line per check."""
        where = f" ({self.file})" if self.file else ""
        head = {PASSED: "passed", FAILED: "FAILED", NOT_WRITTEN: "not written yet"}[self.status]
        lines = [f"{self.exercise}{where}: {head}"]
        lines += ["  " + c.line() for c in self.checks]
        return "\n".join(lines)

    def assert_passed(self) -> None:
        """Raise AssertionError carrying the report unless every check passed (for notebooks)."""
        if not self.passed:
            raise AssertionError(self.report())

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return self.report()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's display hook
        printer.text(self.report())
