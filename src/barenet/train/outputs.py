"""Output directories: an existing one is never written into unless the user says so.

``check_output(path, ours, overwrite)`` accepts an absent or empty directory; any other is
refused in one line unless ``overwrite``, and even then only barenet's own files (the names or
patterns in ``ours``) are ever removed (``remove_ours``): a user's other files stay. Run
directories (``check_new_run_dir``) add what else can be done with an existing run.
"""
from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from .claim import LOCK, DirInUse, claim_holder, in_use
from .run import CONFIG, METRICS, TRAINER, WEIGHTS

#: What training writes into a run directory (the figures are plots.RUN_PLOTS's).
RUN_FILES = (CONFIG, WEIGHTS, TRAINER, METRICS, "resume.npz", "curves.png",
             "confusion_matrix.png", "misclassified.png", "first_layer_weights.png",
             "per_class_accuracy.png", "gradient_flow.png")
MAX_LISTED = 10_000   # entries looked at in a directory before giving up on listing it all


class DirNotEmpty(ConfigError):
    """An output directory holds files already (and ``overwrite`` was not given)."""


def _entries(path: Path) -> list[str]:
    """Names in ``path`` other than a claim's lock file (at most MAX_LISTED)."""
    out = []
    with os.scandir(path) as it:
        for entry in it:
            if entry.name != LOCK:
                out.append(entry.name)
                if len(out) >= MAX_LISTED:
                    break
    return out


def _is_ours(name: str, ours: Sequence[str]) -> bool:
    """A file barenet writes, or the temporary file of an atomic write of one."""
    if name.startswith(".") and name.endswith(".tmp"):
        name = name[1:].rsplit(".", 2)[0]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in ours)


def ours_in(path: str | os.PathLike, ours: Sequence[str]) -> list[str]:
    """The names in directory ``path`` that barenet writes (sorted)."""
    return sorted(n for n in _entries(Path(path)) if _is_ours(n, ours))


def check_output(path: str | os.PathLike, ours: Sequence[str], overwrite: bool,
                 what: str, claimed: bool = False) -> Path:
    """``path`` as a Path if it may be written: absent, empty, or ``overwrite``. Otherwise
    ConfigError in one line; DirInUse if another process has claimed it (``claimed``: this
    caller holds the claim itself)."""
    path = Path(path)
    if not path.exists():
        return path
    if not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a directory")
    holder = None if claimed else claim_holder(path)
    if holder is not None:
        raise in_use(path, holder)
    names = _entries(path)
    if not names or overwrite:
        return path
    mine = sorted(n for n in names if _is_ours(n, ours))
    if mine:
        shown = ", ".join(mine[:3]) + (", ..." if len(mine) > 3 else "")
        raise DirNotEmpty(f"{path}: already holds {what} ({shown}); choose another --out, or "
                          "--overwrite to replace them")
    raise DirNotEmpty(f"{path}: exists and is not empty; choose another --out, or --overwrite "
                      f"to write {what} into it (its other files are kept)")


def remove_ours(path: str | os.PathLike, ours: Sequence[str]) -> list[str]:
    """Delete barenet's files (``ours``) from directory ``path``; return their names."""
    path = Path(path)
    removed = []
    for name in ours_in(path, ours):
        target = path / name
        if target.is_file() or target.is_symlink():
            target.unlink()
            removed.append(name)
    return removed


def check_new_run_dir(out_dir: str | os.PathLike, overwrite: bool = False,
                      claimed: bool = False) -> Path:
    """``out_dir`` as a Path if a new run may be written there: absent, empty, or
    ``overwrite``; ConfigError otherwise (an existing run is never silently overwritten)."""
    out = Path(out_dir)
    try:
        return check_output(out, RUN_FILES, overwrite, "a run", claimed)
    except DirInUse:
        raise
    except DirNotEmpty:
        if not (out / CONFIG).exists():
            raise
    raise DirNotEmpty(f"{out}: already holds a run; choose another --out, continue it with "
                      f"--resume {out}, or replace it with --overwrite")


__all__ = ["RUN_FILES", "DirNotEmpty", "check_new_run_dir", "check_output", "ours_in",
           "remove_ours"]
