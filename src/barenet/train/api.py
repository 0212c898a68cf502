"""High-level training: ``train_model(config, out_dir)``, ``resume_training(run_dir)`` and
``train_from(run_dir, out_dir, overrides)`` (a new run from a finished one's best weights).

They check that a batch will fit in memory (``memory.py``), load the data, build model,
optimizer and schedule from a flat config (keys as the CLI flags, see ``config.py``), train
with ``Trainer``, evaluate the best weights on the test set and, with a run directory -- claimed
for the whole training (``claim.py``) -- save everything needed to use or resume the run after
every epoch.
Everything random is drawn from generators spawned from ``seed`` (model init, split, shuffling,
augmentation; dropout from the model's own generators), so a run is reproducible bit for bit.
The library never prints: progress reaches the caller through ``Callback`` hooks.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import nn
from ..data.datasets import load_dataset
from ..data.transforms import Normalize
from ..errors import CheckpointError, ConfigError, TrainingDiverged
from ..models import architecture_of, build_model, input_shape, model_input
from . import memory
from .changes import (
    FROM_SETTINGS,
    KEEP_STATE,
    RESUME_SETTINGS,
    apply_new_settings,
    merge_settings,
    record_settings,
    restart,
    saved_state,
)
from .checkpoint import CONFIG, FORMAT_VERSION, Run, load_config, load_run, write_run
from .claim import claim_dir
from .config import HYPERPARAMETERS, dataset_record, flat_from_run_config, resolve_config
from .evaluate import predict_logits, run_split, summarize
from .factories import make_optimizer, make_scheduler
from .fileio import atomic_write_json, deferred_interrupt
from .outputs import RUN_FILES, check_new_run_dir, remove_ours
from .result import TrainingInterrupted, TrainResult
from .resume import load_training_state, save_training_state
from .trainer import Callback, Trainer


def _augmenter(rng: np.random.Generator) -> Any:
    from ..data.augment import RandomAffine

    return RandomAffine(rng=rng)


@dataclass
class _Setup:
    trainer: Trainer
    normalize: Normalize
    test: Any
    classes: list[str]


def _setup(cfg: dict[str, Any], callbacks: Sequence[Callback], run_dir: Path | None) -> _Setup:
    """Load the data and build everything a run needs, all randomness from ``cfg['seed']``."""
    train = load_dataset(cfg["dataset"], "train", data_dir=cfg["data_dir"])
    test = load_dataset(cfg["dataset"], "test", data_dir=cfg["data_dir"])
    if cfg["limit_test"] is not None:
        test = dataclasses.replace(test, images=test.images[:cfg["limit_test"]],
                                   labels=test.labels[:cfg["limit_test"]])
    images, labels = train.images, train.labels
    if cfg["limit_train"] is not None:
        images, labels = images[:cfg["limit_train"]], labels[:cfg["limit_train"]]
    init_seq, _, shuffle_seq, aug_seq = np.random.SeedSequence(cfg["seed"]).spawn(4)
    train_idx, val_idx = run_split(len(labels), cfg["seed"], cfg["val_split"])  # the 2nd one
    if len(train_idx) == 0:
        raise ConfigError(f"--val-split {cfg['val_split']} leaves no training samples")
    normalize = Normalize(train.mean, train.std, flatten=model_input(cfg["spec"]) == "flat")
    model = build_model(cfg["spec"], rng=np.random.default_rng(init_seq))
    opt = make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["momentum"],
                         cfg["weight_decay"])
    steps = -(-len(train_idx) // cfg["batch_size"])
    sched = make_scheduler(cfg["scheduler"], opt, cfg["epochs"], steps, cfg)
    augment = _augmenter(np.random.default_rng(aug_seq)) if cfg["augment"] else None
    checkpoint = None if run_dir is None else (lambda t: save_training_state(run_dir, t))
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), (images, labels),
                      (images[val_idx], labels[val_idx]) if len(val_idx) else None, normalize,
                      epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                      shuffle_rng=np.random.default_rng(shuffle_seq), augment=augment,
                      scheduler=sched, patience=cfg["patience"],
                      callbacks=callbacks, checkpoint=checkpoint, train_indices=train_idx,
                      diagnostics=cfg["diagnostics"], clip_grad_norm=cfg["clip_grad_norm"])
    return _Setup(trainer, normalize, test, list(train.classes))


def run_config(cfg: dict[str, Any], normalize: Normalize, classes: list[str]) -> dict[str, Any]:
    """The config.json content of a run trained with the resolved config ``cfg``."""
    from .. import __version__

    out = {"format_version": FORMAT_VERSION, "barenet_version": __version__,
           "model": cfg["spec"], "architecture": architecture_of(cfg["spec"]),
           "input_shape": list(input_shape(cfg["spec"])), "dataset": cfg["dataset"],
           "preprocessing": normalize.to_dict(),
           "hyperparameters": {k: cfg[k] for k in HYPERPARAMETERS}, "seed": cfg["seed"],
           "classes": classes,
           "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if cfg["data_dir"] is not None:
        out["data_dir"] = str(Path(cfg["data_dir"]).expanduser().resolve())
    out.update(dataset_record(cfg["dataset"]))
    return out


def train_model(config: dict[str, Any], out_dir: str | Path | None = None, quiet: bool = True,
                callbacks: Sequence[Callback] = (), evaluate_test: bool = True,
                plots: bool = True, overwrite: bool = False) -> TrainResult:
    """Train from a flat ``config`` (missing keys take the defaults; see ``config.py``).

    ``out_dir``: a new run directory (created; must be absent or empty unless ``overwrite``,
    which replaces only a run's own files) or None to keep everything in memory. The directory
    is claimed (``claim.py``) for the whole training. ``quiet`` is accepted for symmetry with
    the CLI; the library never prints (pass ``callbacks`` to watch progress). Raises
    ConfigError (also when the batch will not fit in memory), DataError, TrainingDiverged, or
    TrainingInterrupted (a KeyboardInterrupt) on Ctrl-C.
    """
    cfg = resolve_config(config)
    memory.check_memory(cfg)
    return _train_new(cfg, out_dir, callbacks, evaluate_test, plots, overwrite)


def _train_new(cfg: dict[str, Any], out_dir: str | Path | None, callbacks: Sequence[Callback],
               evaluate_test: bool, plots: bool, overwrite: bool,
               start_from: Run | None = None) -> TrainResult:
    run_dir = None if out_dir is None else check_new_run_dir(out_dir, overwrite)
    setup = _setup(cfg, callbacks, run_dir)
    rc = run_config(cfg, setup.normalize, setup.classes)
    if start_from is not None:
        setup.trainer.model.load_state_dict(start_from.model.state_dict())
        rc["from"] = {"run": str(start_from.run_dir.resolve()),
                      "epoch": start_from.config.get("best_epoch"),
                      "test_accuracy": start_from.config.get("test_accuracy")}
    if run_dir is None:
        return _fit(setup, rc, None, evaluate_test, plots, resumed_from=None)
    with claim_dir(run_dir):
        check_new_run_dir(run_dir, overwrite, claimed=True)   # again, now it is ours
        if overwrite:
            remove_ours(run_dir, RUN_FILES)
        write_run(run_dir, None, rc)
        save_training_state(run_dir, setup.trainer)  # epoch 0: resumable from the start
        return _fit(setup, rc, run_dir, evaluate_test, plots, resumed_from=None)


def train_from(run_dir: str | Path, out_dir: str | Path | None, overrides: dict[str, Any],
               callbacks: Sequence[Callback] = (), evaluate_test: bool = True,
               plots: bool = True, overwrite: bool = False) -> TrainResult:
    """A new run that starts from the best weights of the run in ``run_dir``: same model,
    dataset, seed and validation split, its settings unless ``overrides`` (flat keys as the
    CLI flags: epochs, lr, batch_size, optimizer, ...) change them."""
    source = load_run(run_dir)
    try:
        old = resolve_config({**flat_from_run_config(source.config),
                              "data_dir": source.data_dir(overrides.get("data_dir"))})
    except (ConfigError, CheckpointError) as exc:
        raise CheckpointError(f"{Path(run_dir) / CONFIG}: cannot train further ({exc})") from None
    cfg, _ = merge_settings(old, overrides, FROM_SETTINGS,
                            f"--from {run_dir} keeps its model, dataset, seed and validation "
                            "split")
    memory.check_memory(cfg)
    return _train_new(cfg, out_dir, callbacks, evaluate_test, plots, overwrite, source)


def resume_training(run_dir: str | Path, callbacks: Sequence[Callback] = (),
                    data_dir: str | None = None, evaluate_test: bool = True,
                    plots: bool = True, overrides: dict[str, Any] | None = None,
                    on_settings: Callable[[int, dict[str, tuple]], None] | None = None
                    ) -> TrainResult:
    """Continue a run directory from its last completed epoch. With its saved settings the
    result is identical to an uninterrupted run with the same seed; ``overrides`` (flat keys:
    epochs, lr, batch_size, optimizer, momentum, weight_decay, scheduler, patience,
    diagnostics, clip_grad_norm) continue it under new settings, which
    ``on_settings(epoch, {key: (old, new)})`` hears of first and config.json records. A run
    that never saved its first checkpoint starts from scratch."""
    run_dir = Path(run_dir)
    load_config(run_dir)   # a run directory, before claiming it
    with claim_dir(run_dir):
        rc = load_config(run_dir)
        try:
            flat = flat_from_run_config(rc)
            flat["data_dir"] = data_dir if data_dir is not None else rc.get("data_dir")
            old = resolve_config(flat)
        except (ConfigError, CheckpointError) as exc:
            raise CheckpointError(f"{run_dir / CONFIG}: {exc}") from None
        state = saved_state(run_dir, rc)
        done = 0 if state is None else int(state.get("epoch", 0))
        if state is not None and state.get("finished") and rc.get("test_accuracy") is not None:
            raise ConfigError(f"{run_dir}: training already finished ({done} epochs, test "
                              f"accuracy {rc['test_accuracy']:.4f}); nothing to resume. To "
                              f"train it further: barenet train --from {run_dir} --out NEW "
                              "--epochs N")
        cfg, changed = merge_settings(old, {**(overrides or {}), "data_dir": None},
                                      RESUME_SETTINGS, f"--resume continues {run_dir} with "
                                      "its model, data and seed")
        if "epochs" in changed and cfg["epochs"] <= done:
            raise ConfigError(f"--epochs {cfg['epochs']}: the run has already completed {done} "
                              f"epoch{'s' if done != 1 else ''}; give more to continue it")
        memory.check_memory(cfg)
        if changed and on_settings is not None:
            on_settings(done, changed)
        setup = _setup(cfg, callbacks, run_dir)
        if state is None:   # nothing was saved: start again from the beginning
            restart(setup.trainer, rc)
        elif any(k not in KEEP_STATE for k in changed):
            apply_new_settings(setup.trainer, run_dir, old, cfg)
        else:
            load_training_state(run_dir, setup.trainer)
        if changed or state is None:
            rc = record_settings(rc, cfg, changed, done)
            with deferred_interrupt():
                save_training_state(run_dir, setup.trainer)
                atomic_write_json(run_dir / CONFIG, rc)
        return _fit(setup, rc, run_dir, evaluate_test, plots, resumed_from=done)


def _fit(setup: _Setup, rc: dict[str, Any], run_dir: Path | None, evaluate_test: bool,
         plots: bool, resumed_from: int | None) -> TrainResult:
    trainer = setup.trainer
    start = time.perf_counter()
    try:
        state = trainer.fit()
    except KeyboardInterrupt:
        raise TrainingInterrupted(run_dir, trainer.state.epoch) from None
    except TrainingDiverged as exc:
        if run_dir is None:
            raise
        raise TrainingDiverged(f"{exc}; the last good checkpoint (epoch {trainer.state.epoch}) "
                               f"is in {run_dir}: continue it with barenet train --resume "
                               f"{run_dir} --lr <lower>") from None
    model = trainer.model.eval()
    evaluation = None
    if evaluate_test:
        logits = predict_logits(model, setup.test.images, setup.normalize)
        evaluation = summarize(logits, setup.test.labels, setup.classes)
        evaluation.update(dataset=setup.test.name, run=None if run_dir is None else str(run_dir))
    rc = {**rc, "epochs_completed": state.epoch, "best_epoch": state.best_epoch,
          "best_val_acc": state.best_val_acc, "stopped_early": state.stopped_early,
          "training_seconds": round(sum(h["seconds"] for h in state.history), 3)}
    if evaluation is not None:
        rc.update(test_accuracy=evaluation["accuracy"], test_loss=evaluation["loss"])
    result = TrainResult(
        history=state.history, run_dir=run_dir, seconds=time.perf_counter() - start,
        model=model, config=rc, best_epoch=state.best_epoch, best_val_acc=state.best_val_acc,
        epochs_completed=state.epoch, stopped_early=state.stopped_early,
        resumed_from=resumed_from, evaluation=evaluation,
        test_accuracy=None if evaluation is None else evaluation["accuracy"],
        test_loss=None if evaluation is None else evaluation["loss"])
    if run_dir is not None:
        atomic_write_json(run_dir / CONFIG, rc)
        if plots:
            _plot(result, setup)
    return result


def _plot(result: TrainResult, setup: _Setup) -> None:
    """Draw the run's figures; a failure here is recorded, never raised (training is safe)."""
    try:
        from .. import plots

        run = Run(result.run_dir, result.config, result.model, setup.normalize)
        result.plots = list(plots.plot_run(result.run_dir, result.history, result.evaluation,
                                           run, dataset=setup.test))
    except Exception as exc:  # noqa: BLE001 - plotting must never lose a training
        result.plot_error = f"{type(exc).__name__}: {exc}"


__all__ = ["TrainResult", "TrainingInterrupted", "check_new_run_dir", "make_optimizer",
           "make_scheduler", "resume_training", "run_config", "train_from", "train_model"]
