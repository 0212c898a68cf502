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
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import (
    atomic_save_npz,
    atomic_write_bytes,
    atomic_write_json,
    deferred_interrupt,
    jsonable,
)
from ..errors import CheckpointError
from ..optim import flatten_state, unflatten_state
from .checkpoint import MAX_LINE, METRICS, TRAINER, WEIGHTS, weight_problems
from .fileio import NpzArchive, brief, name_list, read_json, remove_stale_temp_files
from .trainer import Trainer
from .trainer_state import STATE_KEYS, check_state

RESUME = "resume.npz"
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
TRAINER_FORMAT = 1
GROUPS = ("model", "best", "optimizer")
MAX_STATE_CHARS = 16 << 20   # of the JSON text of the trainer state


def metrics_csv(history: list[dict[str, Any]]) -> bytes:
    """The per-epoch history as CSV bytes with a header row: ``METRIC_COLUMNS``, then any
    other key of a row (diagnostics) in order of first appearance; missing values are empty."""
    extra = dict.fromkeys(k for rec in history for k in rec if k not in METRIC_COLUMNS)
    columns = METRIC_COLUMNS + list(extra)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for rec in history:
        writer.writerow(["" if rec.get(c) is None else rec[c] for c in columns])
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
    remove_stale_temp_files(run_dir)
    with deferred_interrupt():
        weights = run_dir / WEIGHTS
        if st.best_epoch == st.epoch or not weights.exists():
            atomic_save_npz(weights, best)
        atomic_write_bytes(run_dir / METRICS, metrics_csv(st.history))
        atomic_write_json(run_dir / TRAINER, {k: v for k, v in state.items()
                                              if k not in ("generators", "optimizer")})
        atomic_save_npz(run_dir / RESUME, arrays)


def _state(path: Path, npz: NpzArchive) -> dict[str, Any]:
    """The trainer state of an opened resume.npz: its ``state`` text parsed and checked
    (format version, keys, every field of the trainer's state)."""
    text = npz.members.get("state")
    if text is None or text.shape != () or text.dtype.kind != "U" or \
            text.nbytes > MAX_STATE_CHARS * 4:
        raise CheckpointError(f"{path}: invalid resume state (expected a 'state' text of at "
                              f"most {MAX_STATE_CHARS:,} characters)")
    try:
        state = json.loads(str(npz.read(["state"])["state"]))
        if not isinstance(state, dict):
            raise ValueError("'state' is not a JSON object")
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: invalid resume state ({brief(exc, 120)})") from None
    version = state.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: 'format_version' must be a positive integer")
    if version > TRAINER_FORMAT:
        raise CheckpointError(f"{path}: made by a newer barenet (resume format {version}, this "
                              f"barenet reads {TRAINER_FORMAT}): upgrade barenet")
    expected = {"format_version", "optimizer", *STATE_KEYS}
    for what, names in (("missing", expected - set(state)), ("unexpected", set(state) - expected)):
        if names:
            raise CheckpointError(f"{path}: invalid resume state "
                                  f"({name_list(what, sorted(names))})")
    try:
        check_state(state)
    except ValueError as exc:
        raise CheckpointError(f"{path}: invalid resume state ({brief(exc)})") from None
    if not _optimizer_meta_ok(state["optimizer"]):
        raise CheckpointError(f"{path}: invalid resume state ('optimizer' must hold a 'state' "
                              "object of per-parameter objects and a 'param_groups' list of "
                              "objects)")
    return state


def _optimizer_meta_ok(meta: Any) -> bool:
    """The shape of ``flatten_state``'s meta: ``{"state": {index: {name: {"array": key} or a
    number}}, "param_groups": [{...}]}`` (the values are the optimizer's to check)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict) or \
            not isinstance(meta.get("param_groups"), list):
        return False
    entries = meta["state"].values()
    return all(isinstance(g, dict) for g in meta["param_groups"]) and all(
        isinstance(e, dict) and all(not isinstance(v, dict) or (
            set(v) == {"array"} and isinstance(v["array"], str)) for v in e.values())
        for e in entries)


def _open(run_dir: str | Path) -> NpzArchive:
    """A run's resume.npz, opened and its headers checked (see ``fileio.NpzArchive``)."""
    path = Path(run_dir) / RESUME
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"{path}: missing, so this run cannot be resumed")
    return NpzArchive(path)


def _grouped(path: Path, members: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"model": ..., "best": ..., "optimizer": ...}`` of an archive's arrays (or their
    headers) by the name after the group's prefix; CheckpointError on any other name."""
    groups: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
    stray = []
    for key, value in members.items():
        group, _, name = key.partition("/")
        if group in groups and name:
            groups[group][name] = value
        elif key != "state":
            stray.append(key)
    if stray:
        raise CheckpointError(f"{path}: {name_list('unexpected', stray)}")
    return groups


def read_resume_state(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, dict]]:
    """(trainer state dict, {"model": ..., "best": ..., "optimizer": ...} arrays) from a
    run's resume.npz, every field of the state checked; CheckpointError naming the file on
    any problem."""
    path = Path(run_dir) / RESUME
    with _open(run_dir) as npz:
        state = _state(path, npz)
        _grouped(path, npz.members)
        arrays = npz.read([k for k in npz.members if k != "state"])
    return state, _grouped(path, arrays)


def _header_problems(headers: dict[str, dict[str, Any]], trainer: Trainer) -> list[str]:
    """What does not fit ``trainer`` in the arrays' headers, before anything is unpacked:
    the weights' names, shapes and dtypes; the optimizer's ``state.<index>.<name>`` arrays
    shaped like their parameter, of numbers."""
    problems = []
    for group in ("model", "best"):
        found = weight_problems(headers[group], trainer.model)
        if found:
            problems.append(f"{group} weights do not match the model: " + "; ".join(found))
    params = [p for g in trainer.optimizer.param_groups for p in g["params"]]
    opt = type(trainer.optimizer)
    names = opt._required_state | opt._optional_state  # every state name it can hold
    bad = []
    for key, m in headers["optimizer"].items():
        match = re.fullmatch(r"state\.(\d{1,9})\.(\w+)", key)
        ok = match is not None and int(match[1]) < len(params) and match[2] in names
        if not ok or m.shape != params[int(match[1])].data.shape or m.dtype.kind not in "fiu":
            bad.append(key)
    if bad:
        problems.append(f"optimizer arrays do not fit the {opt.__name__} of this model: "
                        f"{name_list('unexpected', bad)}")
    return problems


def load_training_state(run_dir: str | Path, trainer: Trainer) -> None:
    """Restore model, optimizer, scheduler, generators and progress of ``trainer`` from
    ``run_dir``; CheckpointError naming the file if anything is missing or does not fit.
    Everything is checked before training could start: the state's every field, the arrays'
    names, shapes and dtypes from their headers, then their values."""
    path = Path(run_dir) / RESUME
    with _open(run_dir) as npz:
        state = _state(path, npz)
        problems = _header_problems(_grouped(path, npz.members), trainer)
        if problems:
            raise CheckpointError(brief(f"{path}: " + "; ".join(problems), MAX_LINE))
        groups = _grouped(path, npz.read([k for k in npz.members if k != "state"]))
    for group in ("model", "best"):
        problems = weight_problems(groups[group], trainer.model)
        if problems:
            raise CheckpointError(brief(f"{path}: {group} weights do not match the model: "
                                        + "; ".join(problems), MAX_LINE))
    try:
        trainer.optimizer.load_state_dict(unflatten_state(groups["optimizer"],
                                                          state["optimizer"]))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise CheckpointError(f"{path}: the optimizer state does not fit: "
                              f"{brief(exc)}") from None
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
