"""The runs under a folder, one summary each, read without trusting any file.

``list_runs(root)`` looks at the folders directly under ``root`` (never deeper, at most
``MAX_RUNS``) that hold a run's files and summarises each from its config.json (and trainer.json
for one that has not finished): model, dataset, epochs, test accuracy, date and a status:

- ``finished``: trained to the end and tested;
- ``interrupted``: stopped before its last epoch (Ctrl-C, a crash, divergence): ``--resume``;
- ``training``: claimed by a live process right now;
- ``saved``: a model saved with ``save_run``, not trained by barenet;
- ``unreadable``: its files cannot be read (or it is an entry that cannot be looked at,
  such as a symlink loop); ``error`` says why, in one line.

Each file is read only up to ``MAX_LIST_BYTES`` (a larger one is shown unreadable), every
string is cut to ``MAX_TEXT`` characters (the CLI escapes them), and entries that are the same
folder (symlinks to one run) are read once.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import BarenetError, CheckpointError
from .claim import LOCK, claim_holder
from .fileio import brief, read_json
from .run import CONFIG, TRAINER

MAX_RUNS = 10_000
MAX_LIST_BYTES = 1 << 20   # of one config.json or trainer.json read for a listing
MAX_TEXT = 120             # characters of one string shown from a run
#: Any of these makes a folder a run directory (perhaps a damaged one).
MARKERS = (CONFIG, TRAINER, "resume.npz", LOCK)


def _is_run(path: Path) -> bool:
    return any(os.path.lexists(path / name) for name in MARKERS)


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _number(value: Any) -> float | int | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value if ok else None


def summarize_run(path: Path) -> dict[str, Any]:
    """One run's summary: name, path, status, model, dataset, epochs, epochs_completed,
    test_accuracy, created, error (None unless unreadable)."""
    row = _empty(path)
    holder = claim_holder(path)
    try:
        cfg = read_json(path / CONFIG, MAX_LIST_BYTES)
    except CheckpointError as exc:
        if holder is not None:   # a run so new it has no config.json yet
            row["status"] = "training"
            return row
        row["error"] = brief(str(exc).replace(str(path / CONFIG), CONFIG, 1), 200)
        return row
    model, hyper = cfg.get("model"), cfg.get("hyperparameters")
    hyper = hyper if isinstance(hyper, dict) else {}
    row.update(model=_text(model.get("name")) if isinstance(model, dict) else None,
               dataset=_text(cfg.get("dataset")),
               epochs=_number(hyper.get("epochs")),
               epochs_completed=_number(cfg.get("epochs_completed")),
               test_accuracy=_number(cfg.get("test_accuracy")),
               created=_text(cfg.get("created")))
    if not hyper:
        row["status"] = "saved"
    elif row["test_accuracy"] is not None and row["epochs_completed"] is not None:
        row["status"] = "finished"
    else:
        row["status"] = "interrupted"
        try:
            row["epochs_completed"] = _number(
                read_json(path / TRAINER, MAX_LIST_BYTES).get("epoch")) or 0
        except CheckpointError:
            row["epochs_completed"] = 0
    if holder is not None:
        row["status"] = "training"
    return row


def list_runs(root: str | os.PathLike) -> tuple[list[dict[str, Any]], list[str]]:
    """(summaries of the run directories directly under ``root``, sorted by name; names of
    the other folders there). BarenetError if ``root`` is not a readable folder."""
    root = Path(root)
    if not root.is_dir():
        what = "no such folder" if not root.exists() else "not a folder"
        raise BarenetError(f"{root}: {what}")
    runs, others, broken = [], [], {}
    try:
        with os.scandir(root) as it:
            for entry in it:
                if len(runs) + len(others) + len(broken) >= MAX_RUNS:
                    break
                try:
                    if entry.is_dir():
                        (runs if _is_run(Path(entry.path)) else others).append(entry.name)
                except OSError as exc:   # a symlink loop, a folder we may not enter, ...
                    broken[entry.name] = f"cannot look at it ({exc.strerror or exc})"
    except OSError as exc:
        raise BarenetError(f"{root}: cannot list ({exc.strerror or exc})") from None
    seen: dict[tuple[int, int], dict[str, Any]] = {}
    rows = []
    for name in sorted([*runs, *broken]):
        path = root / name
        if name in broken:
            rows.append({**_empty(path), "error": broken[name]})
            continue
        try:
            st = path.stat()
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = None
        if key is not None and key in seen:   # another link to a run already read
            rows.append({**seen[key], "name": name, "path": str(path)})
            continue
        row = _summary(path)
        if key is not None:
            seen[key] = row
        rows.append(row)
    return rows, sorted(others)


def _empty(path: Path) -> dict[str, Any]:
    return {"name": path.name, "path": str(path), "status": "unreadable", "model": None,
            "dataset": None, "epochs": None, "epochs_completed": None,
            "test_accuracy": None, "created": None, "error": None}


def _summary(path: Path) -> dict[str, Any]:
    """``summarize_run``, with any failure to read shown in the row, never raised."""
    try:
        return summarize_run(path)
    except (BarenetError, OSError, ValueError) as exc:
        return {**_empty(path), "error": brief(str(exc), 200)}


__all__ = ["MAX_RUNS", "list_runs", "summarize_run"]
