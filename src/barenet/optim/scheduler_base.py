"""What every scheduler shares: the optimizer it drives, when it steps, and a JSON-able state.

A scheduler declares ``interval``, so a training loop never asks which class it holds:

- ``"batch"``: ``step()`` after every ``optimizer.step()``;
- ``"epoch"``: ``step()`` after every epoch;
- ``"metric"``: ``step(metric)`` after every epoch, with e.g. the validation loss.

``LRScheduler`` (lr_scheduler.py) and ``ReduceLROnPlateau`` (plateau.py) both derive from
``Scheduler``; neither imports the other's module.

A saved state is untrusted: ``load_state_dict`` checks every field's type and range (with
``checked_int``/``checked_real``, which the trainer uses too) before it changes anything, and
raises one ValueError naming the field.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from .optimizer import Optimizer

INTERVALS = ("batch", "epoch", "metric")
MAX_COUNT = 10 ** 15   # steps, epochs, patience: far beyond any training


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def checked_int(value: Any, where: str, low: int = 0, high: int = MAX_COUNT) -> int:
    """``value`` if it is an integer (not a bool) in [low, high], else a one-line ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or \
            not low <= value <= high:
        raise ValueError(f"{where} must be an integer in [{low}, {high}], got {_short(value)}")
    return int(value)


#: The largest learning rate accepted from a saved state or a config: far above any rate that
#: trains, high enough to watch a run diverge (a learning rate of 1e308 in a tampered
#: checkpoint would resume, then diverge epochs later).
MAX_LR = 1e9


def checked_real(value: Any, where: str, low: float | None = None, high: float | None = None,
                 high_open: bool = False, none: bool = False) -> Any:
    """``value`` if it is a finite number (not a bool) in range (or None when ``none``), else a
    one-line ValueError. Returned as given, so an int stays an int."""
    if value is None and none:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        math.isfinite(value) and (low is None or value >= low) and \
        (high is None or (value < high if high_open else value <= high))
    if not ok:
        bounds = ([] if low is None else [f">= {low}"]) + \
            ([] if high is None else [f"{'<' if high_open else '<='} {high}"])
        rng = " " + " and ".join(bounds) if bounds else ""
        raise ValueError(f"{where} must be a finite number{rng}{' or null' if none else ''}, "
                         f"got {_short(value)}")
    return value


def checked_reals(value: Any, where: str, n: int, low: float | None = 0.0,
                  high: float | None = None) -> list[float]:
    """A list of ``n`` finite numbers in [``low``, ``high``] as floats, else a one-line
    ValueError."""
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{where} must be a list of {n} numbers (one per parameter group), "
                         f"got {_short(value)}")
    return [float(checked_real(v, f"{where}[{i}]", low, high)) for i, v in enumerate(value)]


def checked_choice(value: Any, where: str, choices: tuple) -> Any:
    """``value`` if it is one of ``choices`` (compared by type too), else a ValueError."""
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"{where} must be one of {', '.join(map(repr, choices))}, "
                         f"got {_short(value)}")
    return value


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
    #: keys a state may hold besides the base ones and ``_saved`` (set by ``_check_saved``)
    _optional: tuple[str, ...] = ()
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
        """Restore ``state_dict()`` output and write its learning rates into the optimizer.
        Every field is checked first: a ValueError naming it, and nothing changed, if one does
        not fit."""
        values = self._checked(state, f"{type(self).__name__}.load_state_dict")
        last_lr = values.pop("_last_lr")
        for key, value in values.items():
            setattr(self, key, value)
        self._write_lrs(last_lr)

    def _checked(self, state: Any, where: str) -> dict[str, Any]:
        """The attributes a saved state sets (name -> value), every one checked."""
        name = type(self).__name__
        if not isinstance(state, dict):
            raise ValueError(f"{where}: expected a dict, got {type(state).__name__}")
        if state.get("name") != name:
            raise ValueError(f"{where}: the state is of {_short(state.get('name'))}")
        missing = [k for k in ("last_epoch", "last_lr", *self._saved) if k not in state]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}")
        known = {"name", "last_epoch", "step_count", "base_lrs", "last_lr", *self._saved,
                 *self._optional}
        unknown = sorted(map(str, set(state) - known))
        if unknown:
            raise ValueError(f"{where}: unknown keys {_short(unknown)}")
        n = len(self.optimizer.param_groups)
        if isinstance(state["last_lr"], (list, tuple)) and len(state["last_lr"]) != n:
            raise ValueError(f"{where}: the state has {len(state['last_lr'])} "
                             f"learning rates, the optimizer has {n} parameter groups")
        values = {"last_epoch": checked_int(state["last_epoch"], f"{where}: last_epoch"),
                  "_step_count": checked_int(state.get("step_count", self._step_count),
                                             f"{where}: step_count"),
                  "base_lrs": checked_reals(state.get("base_lrs", self.base_lrs),
                                            f"{where}: base_lrs", n, high=MAX_LR),
                  "_last_lr": checked_reals(state["last_lr"], f"{where}: last_lr", n,
                                            high=MAX_LR)}
        values.update(self._check_saved(state, where))
        return values

    def _check_saved(self, state: dict[str, Any], where: str) -> dict[str, Any]:
        """The values of the ``_saved`` (and ``_optional``) keys to set, each checked: every
        built-in scheduler overrides this (the base takes them as they are)."""
        return {k: state[k] for k in self._saved}

    def steps_left(self) -> int | None:
        """How many more ``step()`` calls this scheduler allows (None: no limit)."""
        return None

    def __repr__(self) -> str:
        hyper = "".join(f"{k}={getattr(self, k)!r}, " for k in self._saved)
        return (f"{type(self).__name__}({hyper}interval={self.interval!r}, "
                f"last_epoch={self.last_epoch})")
