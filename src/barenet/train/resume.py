"""Saving and restoring the full training state of a run directory, once per epoch.

Per epoch, with Ctrl-C held back until all is written, each file atomically:

1. ``weights.npz``  the best weights so far (what ``load_run`` uses), when they changed;
2. ``metrics.csv``  one row per completed epoch;
3. ``trainer.json`` progress for people and tools: epoch, history, best epoch;
4. ``resume.npz``   last: everything ``--resume`` needs in ONE file, so it is never torn
   between epochs: the weights after the epoch (``model/*``), the best weights (``best/*``),
   the optimizer's arrays (``optimizer/*``) and, as JSON text under ``state``, the trainer
   state (generators, scheduler, history) and the optimizer's hyper-parameters.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import (atomic_save_npz, atomic_write_bytes, atomic_write_json,
                      deferred_interrupt, jsonable)
from ..errors import CheckpointError
from ..optim import flatten_state, unflatten_state
from .checkpoint import METRICS, TRAINER, WEIGHTS, weight_problems
from .fileio import read_json, read_npz
from .trainer import Trainer

RESUME = "resume.npz"
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
TRAINER_FORMAT = 1


def metrics_csv(history: list[dict[str, Any]]) -> bytes:
    """The per-epoch history as CSV bytes with a header row; missing values are empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    for rec in history:
        writer.writerow(["" if rec.get(c) is None else rec[c] for c in METRIC_COLUMNS])
    return buf.getvalue().encode("utf-8")


def save_training_state(run_dir: str | Path, trainer: Trainer) -> None:
    """Write the state of ``trainer`` after its last completed epoch into ``run_dir``."""
    run_dir = Path(run_dir)
    st = trainer.state
    current = trainer.model.state_dict()
    best = st.best_weights if st.best_weights is not None else current
    opt_arrays, opt_meta = flatten_state(trainer.optimizer.state_dict())
    state = {"format_version": TRAINER_FORMAT, **trainer.state_dict(), "optimizer": opt_meta}
    text = json.dumps(jsonable(state), allow_nan=False)
    arrays = {"state": np.array(text)}
    arrays.update({f"model/{k}": v for k, v in current.items()})
    arrays.update({f"best/{k}": v for k, v in best.items()})
    arrays.update({f"optimizer/{k}": v for k, v in opt_arrays.items()})
    with deferred_interrupt():
        weights = run_dir / WEIGHTS
        if st.best_epoch == st.epoch or not weights.exists():
            atomic_save_npz(weights, best)
        atomic_write_bytes(run_dir / METRICS, metrics_csv(st.history))
        atomic_write_json(run_dir / TRAINER, {k: v for k, v in state.items()
                                              if k not in ("generators", "optimizer")})
        atomic_save_npz(run_dir / RESUME, arrays)


def read_resume_state(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, dict]]:
    """(trainer state dict, {"model": ..., "best": ..., "optimizer": ...} arrays) from a
    run's resume.npz; CheckpointError naming the file on any problem."""
    path = Path(run_dir) / RESUME
    if not path.exists():
        raise CheckpointError(f"{path}: missing, so this run cannot be resumed")
    arrays = read_npz(path)
    text = arrays.pop("state", None)
    try:
        if text is None or text.shape != () or text.dtype.kind != "U":
            raise ValueError("no 'state' text")
        state = json.loads(str(text))
        if not isinstance(state, dict):
            raise ValueError("'state' is not a JSON object")
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: invalid resume state ({exc})") from None
    version = state.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: 'format_version' must be a positive integer")
    if version > TRAINER_FORMAT:
        raise CheckpointError(f"{path}: made by a newer barenet (resume format {version}, this "
                              f"barenet reads {TRAINER_FORMAT}): upgrade barenet")
    groups: dict[str, dict] = {"model": {}, "best": {}, "optimizer": {}}
    for key, value in arrays.items():
        group, _, name = key.partition("/")
        if group not in groups or not name:
            raise CheckpointError(f"{path}: unexpected array {key!r}")
        groups[group][name] = value
    return state, groups


def load_training_state(run_dir: str | Path, trainer: Trainer) -> None:
    """Restore model, optimizer, scheduler, generators and progress of ``trainer`` from
    ``run_dir``; CheckpointError naming the file if anything is missing or does not fit."""
    path = Path(run_dir) / RESUME
    state, groups = read_resume_state(run_dir)
    for group in ("model", "best"):
        problems = weight_problems(groups[group], trainer.model)
        if problems:
            raise CheckpointError(f"{path}: {group} weights do not match the model: "
                                  + "; ".join(problems))
    try:
        trainer.optimizer.load_state_dict(unflatten_state(groups["optimizer"],
                                                          state["optimizer"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: the optimizer state does not fit: {exc}") from None
    trainer.model.load_state_dict(groups["model"])
    try:
        trainer.load_state_dict(state, best_weights=groups["best"])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def read_progress(run_dir: str | Path) -> dict[str, Any]:
    """trainer.json of a run (epoch, epochs, finished, history ...); CheckpointError if bad."""
    return read_json(Path(run_dir) / TRAINER)


__all__ = ["METRIC_COLUMNS", "RESUME", "load_training_state", "metrics_csv", "read_progress",
           "read_resume_state", "save_training_state"]
