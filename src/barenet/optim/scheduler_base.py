"""What every scheduler shares: the optimizer it drives, when it steps, and a JSON-able state.

A scheduler declares ``interval``, so a training loop never asks which class it holds:

- ``"batch"``: ``step()`` after every ``optimizer.step()``;
- ``"epoch"``: ``step()`` after every epoch;
- ``"metric"``: ``step(metric)`` after every epoch, with e.g. the validation loss.

``LRScheduler`` (lr_scheduler.py) and ``ReduceLROnPlateau`` (plateau.py) both derive from
``Scheduler``; neither imports the other's module.
"""
from __future__ import annotations

import math
from typing import Any

from .optimizer import Optimizer

INTERVALS = ("batch", "epoch", "metric")


def _json_float(x: float) -> float | str:
    """A float for strict JSON: non-finite values become ``"inf"``, ``"-inf"``, ``"nan"``."""
    return float(x) if math.isfinite(x) else str(float(x))


def _per_group(name: str, value: Any, optimizer: Optimizer) -> list[float]:
    """One value per parameter group, from a scalar or a list of that length."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: expected {n} values (one per parameter group), "
                             f"got {len(value)}")
        return [float(v) for v in value]
    return [float(value)] * n


class Scheduler:
    """Base class: ``optimizer``, ``interval``, ``last_epoch``, ``get_last_lr()`` and state.

    ``state_dict()`` holds ``name``, ``last_epoch``, ``step_count``, ``base_lrs``, ``last_lr``
    and every attribute a subclass lists in ``_saved``; ``load_state_dict`` also writes the
    restored learning rates into the optimizer. Subclasses define ``step``.
    """

    _saved: tuple[str, ...] = ()
    #: the intervals this kind of scheduler can be stepped at
    _intervals: tuple[str, ...] = INTERVALS

    def __init__(self, optimizer: Optimizer, interval: str) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected a barenet Optimizer, "
                            f"got {type(optimizer).__name__}")
        if interval not in self._intervals:
            raise ValueError(f"{name}: invalid interval {interval!r}, expected one of "
                             f"{', '.join(map(repr, self._intervals))}")
        self.optimizer = optimizer
        self.interval = interval
        self.base_lrs: list[float] = [float(g["lr"]) for g in optimizer.param_groups]
        self.last_epoch = 0
        self._step_count = 0
        self._last_lr: list[float] = [g["lr"] for g in optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest ``step()``, one per parameter group."""
        return list(self._last_lr)

    def _write_lrs(self, lrs: list[float]) -> None:
        """Set every group's lr (one value per group) and remember them as the last ones."""
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: the class name, epoch counters, base and last lrs, hyper-parameters."""
        out = {"name": type(self).__name__, "last_epoch": self.last_epoch,
               "step_count": self._step_count, "base_lrs": list(self.base_lrs),
               "last_lr": [float(v) for v in self._last_lr]}
        for key in self._saved:
            out[key] = getattr(self, key)
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` output and write its learning rates into the optimizer."""
        name = type(self).__name__
        if state.get("name") != name:
            raise ValueError(f"{name}.load_state_dict: the state is of {state.get('name')!r}")
        missing = [k for k in ("last_epoch", "last_lr", *self._saved) if k not in state]
        if missing:
            raise ValueError(f"{name}.load_state_dict: missing keys {missing}")
        n = len(self.optimizer.param_groups)
        if len(state["last_lr"]) != n:
            raise ValueError(f"{name}.load_state_dict: the state has {len(state['last_lr'])} "
                             f"learning rates, the optimizer has {n} parameter groups")
        self.last_epoch = int(state["last_epoch"])
        self._step_count = int(state.get("step_count", self._step_count))
        if "base_lrs" in state:
            self.base_lrs = [float(v) for v in state["base_lrs"]]
        for key in self._saved:
            setattr(self, key, state[key])
        self._write_lrs([float(v) for v in state["last_lr"]])

    def __repr__(self) -> str:
        hyper = "".join(f"{k}={getattr(self, k)!r}, " for k in self._saved)
        return (f"{type(self).__name__}({hyper}interval={self.interval!r}, "
                f"last_epoch={self.last_epoch})")
