"""The runs under a folder, one summary each, read without trusting any file.

``list_runs(root)`` looks at the folders directly under ``root`` (never deeper, at most
``MAX_RUNS``) that hold a run's files and summarises each from its config.json (and trainer.json
for one that has not finished): model, dataset, epochs, test accuracy, date and a status:

- ``finished``: trained to the end and tested;
- ``interrupted``: stopped before its last epoch (Ctrl-C, a crash, divergence): ``--resume``;
- ``training``: claimed by a live process right now;
- ``saved``: a model saved with ``save_run``, not trained by barenet;
- ``unreadable``: its files cannot be read; ``error`` says why, in one line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import BarenetError, CheckpointError
from .claim import LOCK, claim_holder
from .fileio import read_json
from .run import CONFIG, TRAINER

MAX_RUNS = 10_000
#: Any of these makes a folder a run directory (perhaps a damaged one).
MARKERS = (CONFIG, TRAINER, "resume.npz", LOCK)


def _is_run(path: Path) -> bool:
    return any(os.path.lexists(path / name) for name in MARKERS)


def _number(value: Any) -> float | int | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return value if ok else None


def summarize_run(path: Path) -> dict[str, Any]:
    """One run's summary: name, path, status, model, dataset, epochs, epochs_completed,
    test_accuracy, created, error (None unless unreadable)."""
    row: dict[str, Any] = {"name": path.name, "path": str(path), "status": "unreadable",
                           "model": None, "dataset": None, "epochs": None,
                           "epochs_completed": None, "test_accuracy": None, "created": None,
                           "error": None}
    holder = claim_holder(path)
    try:
        cfg = read_json(path / CONFIG)
    except CheckpointError as exc:
        if holder is not None:   # a run so new it has no config.json yet
            row["status"] = "training"
            return row
        row["error"] = str(exc).replace(str(path / CONFIG), CONFIG, 1)
        return row
    model, hyper = cfg.get("model"), cfg.get("hyperparameters")
    hyper = hyper if isinstance(hyper, dict) else {}
    row.update(model=model.get("name") if isinstance(model, dict) else None,
               dataset=cfg.get("dataset") if isinstance(cfg.get("dataset"), str) else None,
               epochs=_number(hyper.get("epochs")),
               epochs_completed=_number(cfg.get("epochs_completed")),
               test_accuracy=_number(cfg.get("test_accuracy")),
               created=cfg.get("created") if isinstance(cfg.get("created"), str) else None)
    if not hyper:
        row["status"] = "saved"
    elif row["test_accuracy"] is not None and row["epochs_completed"] is not None:
        row["status"] = "finished"
    else:
        row["status"] = "interrupted"
        try:
            row["epochs_completed"] = _number(read_json(path / TRAINER).get("epoch")) or 0
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
    runs, others = [], []
    try:
        with os.scandir(root) as it:
            for entry in it:
                if len(runs) + len(others) >= MAX_RUNS:
                    break
                if entry.is_dir():
                    (runs if _is_run(Path(entry.path)) else others).append(entry.name)
    except OSError as exc:
        raise BarenetError(f"{root}: cannot list ({exc.strerror or exc})") from None
    return [_summary(root / name) for name in sorted(runs)], sorted(others)


def _summary(path: Path) -> dict[str, Any]:
    """``summarize_run``, with any failure to read shown in the row, never raised."""
    try:
        return summarize_run(path)
    except (BarenetError, OSError, ValueError) as exc:
        return {"name": path.name, "path": str(path), "status": "unreadable", "model": None,
                "dataset": None, "epochs": None, "epochs_completed": None,
                "test_accuracy": None, "created": None, "error": str(exc).splitlines()[0]}


__all__ = ["MAX_RUNS", "list_runs", "summarize_run"]
