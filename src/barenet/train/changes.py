"""New settings for a run that already exists: ``--resume RUN --lr ...`` and ``--from RUN``.

A run keeps what makes it that run -- model, dataset, seed, validation split, training subset --
but its schedule and optimizer may change when it is resumed (``RESUME_SETTINGS``), and so may
``diagnostics``, which only watches (switched on at a resume, the earlier epochs' diagnostics
columns stay empty; the training itself is the same bit for bit either way), and the gradient
clipping threshold ``clip_grad_norm`` (None to stop clipping); a new run
started from a finished one's weights (``--from``) may change those and augmentation too.
``merge_settings`` checks the request and gives the new config and what changes.
``apply_new_settings`` restores a trainer built with the new settings from a checkpoint written
with the old ones: the weights, progress and random generators as saved, the optimizer's
per-parameter state when it is the same optimizer, and the new schedule advanced to where the
run stands (as if the run had been started with it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import CheckpointError, ConfigError
from .checkpoint import TRAINER, load_run
from .config import HYPERPARAMETERS, resolve_config
from .factories import make_optimizer, make_scheduler
from .resume import RESUME, load_training_state, read_progress, read_resume_state
from .trainer import Trainer

#: What ``--resume`` may change.
RESUME_SETTINGS = ("epochs", "lr", "batch_size", "optimizer", "momentum", "weight_decay",
                   "scheduler", "patience", "limit_test", "data_dir", "diagnostics",
                   "clip_grad_norm")
#: Settings that only watch the training: changing them alone needs no new optimizer state.
OBSERVERS = ("diagnostics",)
#: Settings whose change alone keeps the saved optimizer and schedule as they are: the
#: observers, and clipping, which scales each step's gradients before the optimizer sees them.
KEEP_STATE = OBSERVERS + ("clip_grad_norm",)
#: What ``--from`` may change (random augmentation starts afresh there).
FROM_SETTINGS = RESUME_SETTINGS + ("augment",)
#: Settings whose change is worth reporting (the data's location is not one).
REPORTED = tuple(k for k in FROM_SETTINGS if k != "data_dir")


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def merge_settings(old: dict[str, Any], overrides: dict[str, Any], allowed: tuple[str, ...],
                   why: str) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    """(new resolved config, {key: (old, new)} for every reported key that changes) from the
    run's resolved config ``old`` and the user's ``overrides`` (flat keys, None = unset).

    ConfigError for a setting outside ``allowed`` that differs from the run's (``why`` says
    what the run keeps) or an invalid value."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(given.get("hidden"), int) and isinstance(old.get("hidden"), list) and \
            old["hidden"] == [given["hidden"]]:
        given["hidden"] = old["hidden"]
    for key, value in given.items():
        if key not in allowed and value != old.get(key):
            may = ", ".join(_flag(k) for k in allowed)
            raise ConfigError(f"{_flag(key)[2:]} cannot change: {why}; drop {_flag(key)} "
                              f"(what may change: {may})")
    flat = {k: v for k, v in old.items() if k != "spec"}
    flat["model"] = old["spec"]
    if given.get("optimizer") not in (None, old["optimizer"]):
        for key in ("lr", "momentum", "weight_decay"):   # the new optimizer's own defaults
            flat.pop(key, None)
    new = resolve_config({**flat, **{k: v for k, v in given.items() if k in allowed}})
    changed = {k: (old[k], new[k]) for k in REPORTED if new[k] != old[k]}
    return new, changed


def describe(changed: dict[str, tuple[Any, Any]]) -> str:
    """'lr 100 -> 0.05, epochs 2 -> 3'."""
    def show(v: Any) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v)
    return ", ".join(f"{k} {show(a)} -> {show(b)}" for k, (a, b) in changed.items())


def _advance(trainer: Trainer) -> None:
    """Step a fresh scheduler to where the trainer's completed epochs leave it."""
    sched, done = trainer.scheduler, trainer.state.epoch
    if sched is None or done == 0:
        return
    if sched.interval == "batch":
        for _ in range(done * len(trainer.loader)):
            sched.step()
    elif sched.interval == "epoch":
        for _ in range(done):
            sched.step()
    else:
        for rec in trainer.state.history:
            sched.step(rec["val_loss"] if rec.get("val_loss") is not None else rec["train_loss"])


def apply_new_settings(trainer: Trainer, run_dir: Path, old: dict[str, Any],
                       new: dict[str, Any]) -> None:
    """Load ``run_dir``'s checkpoint (written with config ``old``) into ``trainer`` (built
    with config ``new``), keeping the new optimizer and schedule (see the module docstring)."""
    new_opt, new_sched, new_epochs = trainer.optimizer, trainer.scheduler, trainer.epochs
    steps = -(-trainer.loader.num_samples // old["batch_size"])
    old_opt = make_optimizer(old["optimizer"], trainer.model.parameters(), old["lr"],
                             old["momentum"], old["weight_decay"])
    old_sched = make_scheduler(old["scheduler"], old_opt, old["epochs"], steps, old)
    trainer.optimizer, trainer.scheduler, trainer.epochs = old_opt, old_sched, old["epochs"]
    try:
        load_training_state(run_dir, trainer)   # checked against the settings it was saved with
    finally:
        trainer.optimizer, trainer.scheduler, trainer.epochs = new_opt, new_sched, new_epochs
    if old["optimizer"] == new["optimizer"]:   # keep momentum / moment estimates
        saved = old_opt.state_dict()
        saved["param_groups"] = new_opt.state_dict()["param_groups"]
        try:
            new_opt.load_state_dict(saved)
        except ValueError:  # e.g. momentum switched on: its buffers start afresh
            pass
    _advance(trainer)


def saved_state(run_dir: Path, rc: dict[str, Any]) -> dict[str, Any] | None:
    """The run's resume state; None if it never saved one (a crash in its first save).
    CheckpointError if it trained and its resume.npz is missing or unreadable."""
    if not (run_dir / RESUME).exists() and not rc.get("epochs_completed"):
        try:
            progress = read_progress(run_dir) if (run_dir / TRAINER).exists() else {}
        except CheckpointError:
            progress = {"epoch": None}
        if progress.get("epoch", 0) == 0:
            return None
    try:
        return read_resume_state(run_dir)[0]
    except CheckpointError as exc:
        if (run_dir / RESUME).exists():
            raise
        raise CheckpointError(f"{exc}; its best weights can still start a new run: barenet "
                              f"train --from {run_dir} --out NEW") from None


def restart(trainer: Trainer, rc: dict[str, Any]) -> None:
    """Start a run that never saved a checkpoint from its initial weights again."""
    source = rc.get("from")
    if isinstance(source, dict) and isinstance(source.get("run"), str):
        try:
            start = load_run(source["run"])
        except CheckpointError as exc:
            raise CheckpointError(f"cannot start again from {source['run']}: {exc}") from None
        trainer.model.load_state_dict(start.model.state_dict())


def record_settings(rc: dict[str, Any], cfg: dict[str, Any], changed: dict[str, tuple],
                    done: int) -> dict[str, Any]:
    """config.json content with the new hyper-parameters and the change recorded."""
    rc = {**rc, "hyperparameters": {k: cfg[k] for k in HYPERPARAMETERS}}
    if changed:
        entry = {"after_epoch": done, **{k: [a, b] for k, (a, b) in changed.items()}}
        rc["settings_changed"] = [*rc.get("settings_changed", []), entry]
    return rc


__all__ = ["FROM_SETTINGS", "KEEP_STATE", "OBSERVERS", "RESUME_SETTINGS", "apply_new_settings",
           "describe", "merge_settings", "record_settings", "restart", "saved_state"]
