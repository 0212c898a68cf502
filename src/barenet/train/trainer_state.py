"""Checks of a saved trainer state, run before anything of it is used (``--resume`` reads
the state from a file that may have been damaged or tampered with)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..optim.scheduler_base import checked_int, checked_real
from .diagnostics import is_column

#: The keys of ``Trainer.state_dict()`` and of each history row (a row may add the columns of
#: ``diagnostics.py``, such as ``grad_norm/0.weight``: numbers >= 0 or null).
STATE_KEYS = ("epoch", "epochs", "history", "best_val_acc", "best_epoch", "bad_epochs",
              "stopped_early", "finished", "generators", "scheduler")
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


def check_state(state: Any) -> None:
    """Check a saved trainer state on its own (types, ranges, history rows, consistency);
    ValueError naming the first field that is wrong. Extra keys are the caller's business."""
    if not isinstance(state, dict):
        raise ValueError(f"expected an object, got {type(state).__name__}")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    epochs = checked_int(state["epochs"], "'epochs'", 1)
    epoch = checked_int(state["epoch"], "'epoch'", 0, epochs)
    history = state["history"]
    if not isinstance(history, list) or len(history) != epoch:
        raise ValueError(f"'history' must be a list of {epoch} rows (one per epoch done)")
    for i, row in enumerate(history):
        where = f"history[{i}]"
        if not isinstance(row, dict) or not set(HISTORY_KEYS) <= set(row) or \
                not all(k in HISTORY_KEYS or is_column(k) for k in row):
            raise ValueError(f"{where} must be an object with keys {', '.join(HISTORY_KEYS)} "
                             "(and diagnostics columns such as grad_norm/0.weight)")
        for key in set(row) - set(HISTORY_KEYS):
            checked_real(row[key], f"{where}.{key}", 0.0, none=True)
        if checked_int(row["epoch"], f"{where}.epoch", 0) != i + 1:
            raise ValueError(f"{where}.epoch must be {i + 1}, got {row['epoch']}")
        checked_real(row["train_loss"], f"{where}.train_loss")
        checked_real(row["train_acc"], f"{where}.train_acc", 0.0, 1.0)
        checked_real(row["val_loss"], f"{where}.val_loss", none=True)
        checked_real(row["val_acc"], f"{where}.val_acc", 0.0, 1.0, none=True)
        checked_real(row["lr"], f"{where}.lr", 0.0, none=True)
        checked_real(row["seconds"], f"{where}.seconds", 0.0)
    best_epoch = checked_int(state["best_epoch"], "'best_epoch'", min(epoch, 1), epoch)
    best = checked_real(state["best_val_acc"], "'best_val_acc'", 0.0, 1.0, none=True)
    if best != (history[best_epoch - 1]["val_acc"] if best_epoch else None):
        raise ValueError(f"'best_val_acc' {best} is not the validation accuracy of "
                         f"'best_epoch' {best_epoch}")
    checked_int(state["bad_epochs"], "'bad_epochs'", 0, epoch)
    for key in ("stopped_early", "finished"):
        if not isinstance(state[key], bool):
            raise ValueError(f"'{key}' must be true or false, got {str(state[key])[:40]}")
    if state["finished"] != (epoch >= epochs or state["stopped_early"]):
        raise ValueError(f"'finished' is {state['finished']} after {epoch} of {epochs} epochs")
    if not isinstance(state["generators"], dict):
        raise ValueError("'generators' must be an object")
    if state["scheduler"] is not None and not isinstance(state["scheduler"], dict):
        raise ValueError("'scheduler' must be an object or null")


def check_generator_state(saved: Any, ref: Any, where: str) -> None:
    """``saved`` has the structure of the generator state ``ref``: the same keys, the same
    bit generator name, integers (or lists of them) where ``ref`` has them, in 0 .. 2**128."""
    if isinstance(ref, dict):
        if not isinstance(saved, dict) or set(saved) != set(ref):
            raise ValueError(f"{where} must be an object with keys {sorted(ref)}")
        for key in ref:
            check_generator_state(saved[key], ref[key], f"{where}.{key}")
    elif isinstance(ref, (np.ndarray, list)):
        if not isinstance(saved, list) or len(saved) != len(ref):
            raise ValueError(f"{where} must be a list of {len(ref)} integers")
        for i, (s, r) in enumerate(zip(saved, np.asarray(ref).tolist())):
            check_generator_state(s, r, f"{where}[{i}]")
    elif isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
        checked_int(saved, where, 0, (1 << 128) - 1)
    elif saved != ref or type(saved) is not type(ref):
        raise ValueError(f"{where} must be {ref!r}, got {str(saved)[:40]}")


__all__ = ["HISTORY_KEYS", "STATE_KEYS", "check_generator_state", "check_state"]
