"""The training loop: mini-batch epochs, validation, schedules, early stopping, best model.

``Trainer.fit()`` runs epochs ``state.epoch + 1 .. epochs``. Each epoch shuffles with the
loader's generator, optionally augments (uint8 batch -> uint8 batch), normalises, steps the
optimizer per batch, evaluates the validation set in eval mode, keeps the best weights by
validation accuracy and calls ``checkpoint(trainer)`` before the callbacks see the epoch, so a
Ctrl-C or crash loses at most the epoch in progress. ``state_dict()`` captures everything that
makes a resumed run bit-for-bit identical to an uninterrupted one: weights, optimizer, scheduler,
and the state of every random generator (shuffling, augmentation, dropout).
"""
from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..data.loader import DataLoader
from ..errors import CheckpointError, TrainingDiverged
from ..nn.init import find_generators
from ..nn.module import Module
from ..optim import Optimizer, Scheduler
from . import diagnostics as _diagnostics
from .clipping import GradientClip
from .evaluate import evaluate_arrays
from .trainer_state import HISTORY_KEYS, STATE_KEYS, check_generator_state, check_state

Transform = Callable[[np.ndarray], np.ndarray]


class Callback:
    """Hooks the trainer calls; override the ones you need (the CLI draws progress with them)."""

    def on_train_begin(self, trainer: "Trainer") -> None:
        """Before the first epoch of this ``fit`` call (``trainer.state.epoch`` done already)."""

    def on_epoch_begin(self, epoch: int, num_batches: int) -> None:
        """At the start of epoch ``epoch`` (1-based), which has ``num_batches`` batches."""

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        """After optimizer step ``batch`` (1-based) of ``epoch``; ``loss`` of that batch."""

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        """After an epoch is complete and checkpointed; ``record`` as in ``TrainState.history``."""

    def on_train_end(self, state: "TrainState") -> None:
        """After the last epoch (not called when training is interrupted or diverges)."""


@dataclass
class TrainState:
    """Progress of a training run. ``history`` has one dict per completed epoch: epoch,
    train_loss, train_acc, val_loss, val_acc (None without a validation set), lr, seconds,
    and with diagnostics on the columns of ``diagnostics.GradientFlow`` too."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_val_acc: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped_early: bool = False
    best_weights: dict[str, np.ndarray] | None = None


class Trainer:
    """Train ``model`` on uint8 images with integer labels.

    Args:
        model, optimizer, criterion: the network, its optimizer, a loss such as
            ``nn.CrossEntropyLoss()`` (``criterion(logits, y) -> float``, ``backward()``).
        train: (images uint8 (N, 28, 28), labels int (N,)); val: the same or None.
        train_indices: optional (M,) ints: train on ``train[0][train_indices]`` without a copy.
        transform: uint8 batch -> float32 model input (e.g. ``Normalize``).
        epochs, batch_size: the schedule; ``shuffle_rng`` draws each epoch's order.
        augment: optional uint8 (B, 28, 28) -> uint8 batch transform applied before ``transform``.
        scheduler: stepped as its ``interval`` says: "batch" (after each optimizer step),
            "epoch", or "metric" (``step(val_loss)`` per epoch; the train loss without val).
        patience: stop when validation accuracy has not improved for this many epochs (0: never).
            The best weights are those of the highest validation accuracy (the latest on a tie).
        callbacks: ``Callback`` objects; checkpoint: called with the trainer after each epoch.
        diagnostics: record gradient flow per epoch (``diagnostics.py``: gradient norms,
            update-to-weight ratios, dead ReLUs) into the history. Off: nothing is measured.
        clip_grad_norm: scale each step's gradients to a total L2 norm of at most this
            (``clipping.py``), after backward and before the optimizer step; None: never.
    """

    def __init__(self, model: Module, optimizer: Optimizer, criterion: Any,
                 train: tuple[np.ndarray, np.ndarray],
                 val: tuple[np.ndarray, np.ndarray] | None, transform: Transform, *,
                 epochs: int, batch_size: int, shuffle_rng: np.random.Generator,
                 augment: Transform | None = None, scheduler: Scheduler | None = None,
                 patience: int = 0,
                 callbacks: Sequence[Callback] = (),
                 checkpoint: Callable[["Trainer"], None] | None = None,
                 train_indices: np.ndarray | None = None, diagnostics: bool = False,
                 clip_grad_norm: float | None = None) -> None:
        if clip_grad_norm is not None and (isinstance(clip_grad_norm, bool) or
                                           not 0 < clip_grad_norm <= float(np.finfo(float).max)):
            raise ValueError(f"Trainer: clip_grad_norm must be a number > 0 or None, got "
                             f"{clip_grad_norm!r}")
        if scheduler is not None and scheduler.interval not in ("batch", "epoch", "metric"):
            raise ValueError(f"Trainer: the scheduler's interval must be 'batch', 'epoch' or "
                             f"'metric', got {scheduler.interval!r}")
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.val = val if val is not None and len(val[1]) else None
        self.transform, self.augment = transform, augment
        self.epochs, self.patience = int(epochs), int(patience)
        self.scheduler = scheduler
        self.callbacks = list(callbacks)
        self.checkpoint = checkpoint
        self.diagnostics = bool(diagnostics)
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        batch_transform = transform if augment is None else (lambda b: transform(augment(b)))
        self.loader = DataLoader(train[0], train[1], batch_size=batch_size, shuffle=True,
                                 rng=shuffle_rng, transform=batch_transform,
                                 indices=train_indices)
        self.state = TrainState()

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def done(self) -> bool:
        """True when every epoch has run or early stopping ended training."""
        return self.state.epoch >= self.epochs or self.state.stopped_early

    def fit(self) -> TrainState:
        """Run the remaining epochs; returns the state. The best weights are loaded into the
        model at the end. Raises TrainingDiverged on a NaN/inf loss (the model is then
        unusable; the last checkpoint is intact) and lets KeyboardInterrupt through."""
        for cb in self.callbacks:
            cb.on_train_begin(self)
        while not self.done:
            # Overflow is caught as a non-finite loss below, with a clear message.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                record = self._run_epoch(self.state.epoch + 1)
            self._finish_epoch(record)
            if self.checkpoint is not None:
                self.checkpoint(self)
            for cb in self.callbacks:
                cb.on_epoch_end(record)
        self.restore_best()
        for cb in self.callbacks:
            cb.on_train_end(self.state)
        return self.state

    def restore_best(self) -> None:
        """Load the best weights seen so far (if any) into the model."""
        if self.state.best_weights is not None:
            self.model.load_state_dict(self.state.best_weights)

    def _run_epoch(self, epoch: int) -> dict[str, Any]:
        start = time.perf_counter()
        lr = self.lr
        self.model.train()
        n_batches = len(self.loader)
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, n_batches)
        total_loss, correct, seen = 0.0, 0, 0
        # With diagnostics the step is GradientFlow's measured one; without, the optimizer's own.
        flow = _diagnostics.GradientFlow(self.model, self.optimizer) if self.diagnostics else None
        clip = GradientClip(self.model, self.clip_grad_norm) if self.clip_grad_norm else None
        with nullcontext(self.optimizer.step) if flow is None else flow as step:
            for i, (x, y) in enumerate(self.loader, start=1):
                logits = self.model(x)
                loss = self.criterion(logits, y)
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"training diverged: the loss became {loss} at epoch {epoch}, batch {i} "
                        f"of {n_batches} (learning rate {self.lr:g}); try a lower --lr")
                self.optimizer.zero_grad()
                self.model.backward_params_only(self.criterion.backward())  # data needs no dL/dx
                if clip is not None and not clip():
                    raise TrainingDiverged(
                        f"training diverged: the gradient norm became {clip.last} at epoch "
                        f"{epoch}, batch {i} of {n_batches} (learning rate {self.lr:g}); try a "
                        "lower --lr")
                step()
                if self.scheduler is not None and self.scheduler.interval == "batch":
                    self.scheduler.step()
                total_loss += loss * len(y)
                correct += int(np.count_nonzero(logits.argmax(axis=1) == y))
                seen += len(y)
                for cb in self.callbacks:
                    cb.on_batch_end(epoch, i, loss)
        record: dict[str, Any] = {"epoch": epoch, "train_loss": total_loss / max(seen, 1),
                                  "train_acc": correct / max(seen, 1),
                                  "val_loss": None, "val_acc": None}
        if self.val is not None:
            val_loss, val_acc, _ = evaluate_arrays(self.model, self.val[0], self.val[1],
                                                   self.transform)
            record.update(val_loss=val_loss, val_acc=val_acc)
        record.update(lr=lr, seconds=round(time.perf_counter() - start, 3))
        if flow is not None:
            record.update(flow.columns())
            if clip is not None:
                record.update(clip.columns())
        return record

    def _finish_epoch(self, record: dict[str, Any]) -> None:
        """Update schedule, best weights and early stopping from a completed epoch."""
        st = self.state
        st.epoch = record["epoch"]
        st.history.append(record)
        interval = None if self.scheduler is None else self.scheduler.interval
        if interval == "epoch":
            self.scheduler.step()
        elif interval == "metric":
            metric = record["val_loss"] if record["val_loss"] is not None else record["train_loss"]
            self.scheduler.step(metric)
        val_acc = record["val_acc"]
        first = val_acc is None or st.best_val_acc is None
        # A tie keeps the later weights (trained longer, at a lower learning rate), but only
        # a strictly better accuracy resets the early-stopping count.
        if first or val_acc > st.best_val_acc:
            st.bad_epochs = 0
        else:
            st.bad_epochs += 1
            if self.patience and st.bad_epochs >= self.patience and st.epoch < self.epochs:
                st.stopped_early = True
        if first or val_acc >= st.best_val_acc:
            st.best_val_acc, st.best_epoch = val_acc, st.epoch
            st.best_weights = self.model.state_dict()

    # -- resume ---------------------------------------------------------------------------
    def generators(self) -> dict[str, np.random.Generator]:
        """Every random generator training draws from, by name."""
        return find_generators({"loader": self.loader, "augment": self.augment,
                                "model": self.model})

    def state_dict(self) -> dict[str, Any]:
        """JSON-able trainer state (without arrays): progress, history, generators, scheduler."""
        st = self.state
        return {"epoch": st.epoch, "epochs": self.epochs, "history": copy.deepcopy(st.history),
                "best_val_acc": st.best_val_acc, "best_epoch": st.best_epoch,
                "bad_epochs": st.bad_epochs, "stopped_early": st.stopped_early,
                "finished": self.done,
                "generators": {k: copy.deepcopy(g.bit_generator.state)
                               for k, g in self.generators().items()},
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any], best_weights: dict[str, np.ndarray]) -> None:
        """Restore ``state_dict()`` output (the model and optimizer are loaded separately).
        Every field is checked first (``check_state``), then that it fits this trainer: its
        epochs, generators and scheduler. Raises CheckpointError, and changes nothing, if not."""
        gens = self.generators()
        old = {k: copy.deepcopy(g.bit_generator.state) for k, g in gens.items()}
        sched = None
        try:
            check_state(state)
            epoch, history = state["epoch"], state["history"]
            if state["epochs"] != self.epochs:
                raise ValueError(f"'epochs' is {state['epochs']}, the run trains {self.epochs}")
            saved = state["generators"]
            if set(saved) != set(gens):
                raise ValueError(f"random generators {sorted(saved)[:5]}, expected "
                                 f"{sorted(gens)}")
            for key, gen in gens.items():
                check_generator_state(saved[key], old[key], f"generator {key!r}")
            if (state["scheduler"] is None) != (self.scheduler is None):
                raise ValueError("scheduler state does not match the configured scheduler")
            for key, gen in gens.items():
                try:
                    gen.bit_generator.state = copy.deepcopy(saved[key])
                except Exception as exc:  # noqa: BLE001 - NumPy's own check, any kind
                    raise ValueError(f"generator {key!r}: {type(exc).__name__}: {exc}") from None
            if self.scheduler is not None:
                before, planned = self.scheduler.state_dict(), self._planned_steps()
                self.scheduler.load_state_dict(state["scheduler"])  # all or nothing
                sched = before
                if planned is not None and self._planned_steps() < planned:
                    raise ValueError(f"the scheduler stops after {self._planned_steps()} "
                                     f"steps (total_steps), this run is set up for {planned}")
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError,
                RecursionError) as exc:
            for key, gen in gens.items():
                gen.bit_generator.state = old[key]
            if sched is not None:
                self.scheduler.load_state_dict(sched)  # the state it had: it fits
            raise CheckpointError(f"trainer state does not fit this run: "
                                  f"{str(exc)[:300]}") from None
        best = state["best_val_acc"]
        self.state = TrainState(
            epoch=epoch, history=copy.deepcopy(history),
            best_val_acc=None if best is None else float(best),
            best_epoch=state["best_epoch"], bad_epochs=state["bad_epochs"],
            stopped_early=state["stopped_early"], best_weights=best_weights)

    def _planned_steps(self) -> int | None:
        """How many steps the scheduler allows in all (None: no limit)."""
        left = self.scheduler.steps_left()
        return None if left is None else left + self.scheduler.last_epoch


__all__ = ["Callback", "HISTORY_KEYS", "STATE_KEYS", "TrainState", "Trainer", "check_state",
           "find_generators"]
