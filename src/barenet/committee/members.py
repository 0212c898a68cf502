"""Which runs may form a committee: the same dataset (its name and, for a folder, the
checksums its runs recorded), the same classes in the same order, the same picture size.

The runs may differ in anything else (an MLP beside a CNN, other preprocessing): each member
prepares the pictures its own way, and only their probabilities over the same classes meet.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from ..train.fileio import printable


def _name(run: Any) -> str:
    return printable(str(run.run_dir), 80)


def _first_difference(a: Sequence[str], b: Sequence[str]) -> str:
    """Where two class lists part: a count or the first differing name."""
    if len(a) != len(b):
        return f"{len(a)} classes vs {len(b)}"
    i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    return f"class {i} is {printable(a[i], 30)} vs {printable(b[i], 30)}"


def check_committee(runs: Sequence[Any]) -> None:
    """Raise ConfigError, in one line naming the two runs, unless ``runs`` (loaded ``Run``s,
    at least one) share their dataset, classes and image size and no run is given twice."""
    if not runs:
        raise ConfigError("a committee needs at least one run")
    seen: dict[Path, Any] = {}
    for run in runs:
        where = Path(run.run_dir).resolve()
        if where in seen:
            raise ConfigError(f"{_name(run)}: given twice; each run of a committee counts once")
        seen[where] = run
    first = runs[0]
    for run in runs[1:]:
        pair = f"{_name(first)} and {_name(run)}"
        if run.dataset != first.dataset:
            raise ConfigError(f"{pair}: trained on different datasets "
                              f"({printable(first.dataset, 40)} vs {printable(run.dataset, 40)}); "
                              f"a committee's runs must share one")
        if list(run.classes) != list(first.classes):
            raise ConfigError(f"{pair}: different classes "
                              f"({_first_difference(first.classes, run.classes)})")
        if run.image_size != first.image_size:
            raise ConfigError(f"{pair}: different input sizes ({first.image_size}x"
                              f"{first.image_size} vs {run.image_size}x{run.image_size} "
                              f"pictures)")
        if dict(run.dataset_spec.sha256) != dict(first.dataset_spec.sha256):
            raise ConfigError(f"{pair}: trained on different data under one name "
                              f"{printable(first.dataset, 40)} (their recorded checksums "
                              f"differ)")


__all__ = ["check_committee"]
