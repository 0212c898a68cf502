"""Saving and restoring the full training state of a run directory, once per epoch.

Files (all written atomically, Ctrl-C held back until the whole set is written):
``last.npz`` (weights after the last completed epoch), ``optimizer.npz`` (optimizer arrays),
``weights.npz`` (best weights, rewritten when they change), ``metrics.csv`` and, last,
``trainer.json`` (epoch, history, generator and scheduler states, optimizer hyper-parameters).
``last.npz`` and ``optimizer.npz`` carry the epoch they belong to, so a set torn by a crash
between two renames is detected instead of silently mixing epochs.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..optim import flatten_state, unflatten_state
from .checkpoint import LAST, METRICS, OPTIMIZER, TRAINER, WEIGHTS, weight_problems
from .fileio import (atomic_save_npz, atomic_write_bytes, atomic_write_json,
                     deferred_interrupt, read_json, read_npz)
from .trainer import Trainer

EPOCH_KEY = "__epoch__"
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
    """Write the resume state of ``trainer`` (after its last completed epoch) into ``run_dir``."""
    run_dir = Path(run_dir)
    st = trainer.state
    marker = {EPOCH_KEY: np.array(st.epoch, dtype=np.int64)}
    opt_arrays, opt_meta = flatten_state(trainer.optimizer.state_dict())
    state = {"format_version": TRAINER_FORMAT, **trainer.state_dict(), "optimizer": opt_meta}
    with deferred_interrupt():
        atomic_save_npz(run_dir / LAST, {**trainer.model.state_dict(), **marker})
        atomic_save_npz(run_dir / OPTIMIZER, {**opt_arrays, **marker})
        weights = run_dir / WEIGHTS
        if st.best_weights is None:  # before the first epoch: the initial weights
            if not weights.exists():
                atomic_save_npz(weights, trainer.model.state_dict())
        elif st.best_epoch == st.epoch or not weights.exists():
            atomic_save_npz(weights, st.best_weights)
        atomic_write_bytes(run_dir / METRICS, metrics_csv(st.history))
        atomic_write_json(run_dir / TRAINER, state)


def read_trainer_json(run_dir: str | Path) -> dict[str, Any]:
    """trainer.json of a run, checked for its format version; CheckpointError otherwise."""
    path = Path(run_dir) / TRAINER
    state = read_json(path)
    version = state.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: 'format_version' must be a positive integer")
    if version > TRAINER_FORMAT:
        raise CheckpointError(f"{path}: made by a newer barenet (trainer state format "
                              f"{version}, this barenet reads {TRAINER_FORMAT}): upgrade barenet")
    if isinstance(state.get("epoch"), bool) or not isinstance(state.get("epoch"), int):
        raise CheckpointError(f"{path}: 'epoch' must be an integer")
    return state


def _with_epoch(path: Path, epoch: int) -> dict[str, np.ndarray]:
    arrays = read_npz(path)
    saved = arrays.pop(EPOCH_KEY, None)
    if saved is None or saved.shape != () or int(saved) != epoch:
        got = "no epoch" if saved is None or saved.shape != () else f"epoch {int(saved)}"
        raise CheckpointError(f"{path}: holds {got} but trainer.json says epoch {epoch}; the "
                              "resume state was torn by a crash while saving")
    return arrays


def load_training_state(run_dir: str | Path, trainer: Trainer) -> None:
    """Restore model, optimizer, scheduler, generators and progress of ``trainer`` from
    ``run_dir``; CheckpointError naming the file if anything is missing or does not fit."""
    run_dir = Path(run_dir)
    state = read_trainer_json(run_dir)
    epoch = state["epoch"]
    last = _with_epoch(run_dir / LAST, epoch)
    problems = weight_problems(last, trainer.model)
    if problems:
        raise CheckpointError(f"{run_dir / LAST}: does not match the model: " + "; ".join(problems))
    best = read_npz(run_dir / WEIGHTS)
    problems = weight_problems(best, trainer.model)
    if problems:
        raise CheckpointError(f"{run_dir / WEIGHTS}: does not match the model: "
                              + "; ".join(problems))
    opt_arrays = _with_epoch(run_dir / OPTIMIZER, epoch)
    trainer.model.load_state_dict(last)
    try:
        trainer.optimizer.load_state_dict(unflatten_state(opt_arrays, state["optimizer"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{run_dir / OPTIMIZER}: does not fit the optimizer: {exc}") \
            from None
    try:
        trainer.load_state_dict(state, best_weights=best)
    except CheckpointError as exc:
        raise CheckpointError(f"{run_dir / TRAINER}: {exc}") from None


__all__ = ["METRIC_COLUMNS", "load_training_state", "metrics_csv", "read_trainer_json",
           "save_training_state"]
