"""ReduceLROnPlateau: cut the learning rate when a metric stops improving (PyTorch's rule)."""
from __future__ import annotations

import math
from typing import Any

from .optimizer import Optimizer
from .scheduler_base import (
    Scheduler,
    _json_float,
    _per_group,
    checked_choice,
    checked_int,
    checked_real,
    checked_reals,
)


class ReduceLROnPlateau(Scheduler):
    """Multiply the lr by ``factor`` once a metric has not improved for ``patience`` steps.

    ``step(metric)`` once per epoch: ``interval`` is "metric". Improvement (``mode`` "min",
    ``threshold_mode`` "rel"): ``metric < best * (1 - threshold)``; "abs":
    ``metric < best - threshold``; "max" mirrors.
    After a reduction, ``cooldown`` steps pass before bad steps count again. The lr never goes
    below ``min_lr`` (per group), and changes smaller than ``eps`` are skipped.
    """

    _intervals = ("metric",)
    _saved = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
              "min_lrs", "eps", "cooldown_counter", "num_bad_epochs")
    _optional = ("best",)

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0.0, eps: float = 1e-8) -> None:
        super().__init__(optimizer, interval="metric")
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: invalid factor {factor!r}, expected in [0, 1)")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: invalid mode {mode!r}, expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: invalid threshold_mode {threshold_mode!r}, "
                             "expected 'rel' or 'abs'")
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps = int(cooldown), float(eps)
        self.min_lrs = _per_group("ReduceLROnPlateau min_lr", min_lr, optimizer)
        self.best = math.inf if mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _is_better(self, a: float) -> bool:
        if self.mode == "min":
            edge = self.best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else self.best - self.threshold
            return a < edge
        edge = self.best * (1 + self.threshold) if self.threshold_mode == "rel" \
            else self.best + self.threshold
        return a > edge

    def step(self, metric: float) -> None:
        """Record this epoch's ``metric`` (e.g. validation loss) and maybe reduce the lr."""
        current = float(metric)
        self._step_count += 1
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, low in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, low)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The base state plus ``best`` (JSON-able: ``"inf"`` before the first step)."""
        out = super().state_dict()
        out["best"] = _json_float(self.best)
        return out

    def _check_saved(self, state: dict[str, Any], where: str) -> dict[str, Any]:
        best = state.get("best", self.best)
        if best in ("inf", "-inf") or (isinstance(best, float) and math.isinf(best)):
            best = float(best)
        else:
            best = float(checked_real(best, f"{where}: best"))
        n = len(self.optimizer.param_groups)
        return {"best": best,
                "mode": checked_choice(state["mode"], f"{where}: mode", ("min", "max")),
                "factor": float(checked_real(state["factor"], f"{where}: factor", 0.0, 1.0,
                                             high_open=True)),
                "patience": checked_int(state["patience"], f"{where}: patience"),
                "threshold": float(checked_real(state["threshold"], f"{where}: threshold", 0.0)),
                "threshold_mode": checked_choice(state["threshold_mode"],
                                                 f"{where}: threshold_mode", ("rel", "abs")),
                "cooldown": checked_int(state["cooldown"], f"{where}: cooldown"),
                "min_lrs": checked_reals(state["min_lrs"], f"{where}: min_lrs", n),
                "eps": float(checked_real(state["eps"], f"{where}: eps", 0.0)),
                "cooldown_counter": checked_int(state["cooldown_counter"],
                                                f"{where}: cooldown_counter"),
                "num_bad_epochs": checked_int(state["num_bad_epochs"],
                                              f"{where}: num_bad_epochs")}
