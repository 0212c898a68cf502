"""Learning-rate schedulers with PyTorch's schedules, computed in closed form.

Each scheduler writes ``group["lr"]`` of its optimizer's ``param_groups``. Construction performs
the first step (epoch 0), as in PyTorch; call ``step()`` after each epoch, or after each
``optimizer.step()`` for a per-batch schedule, as its ``interval`` says ("epoch" or "batch",
settable in every constructor). ``state_dict()`` is JSON-able. ``load_state_dict`` also writes the
restored learning rates (and OneCycleLR's momentum) back into the optimizer, so the order of
loading does not matter. ``ReduceLROnPlateau`` (plateau.py) is re-exported here, as in PyTorch.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from .optimizer import Optimizer
from .plateau import ReduceLROnPlateau
from .scheduler_base import Scheduler, _per_group, checked_choice, checked_int, checked_real


def _decay(gamma: Any, where: str) -> float:
    """A restored ``gamma``: a decay factor in [0, 1] (a larger one would overflow
    ``gamma ** epoch`` in a long enough run)."""
    return float(checked_real(gamma, f"{where}: gamma", 0.0, 1.0))


class LRScheduler(Scheduler):
    """Base class: sets every group's lr to ``get_lr()`` at ``last_epoch`` on each ``step()``.

    Subclasses implement ``get_lr()`` and list their JSON-able attributes in ``_saved``.
    ``interval`` is "epoch" or "batch": when the training loop calls ``step()``.
    """

    _intervals = ("batch", "epoch")

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1, *,
                 interval: str = "epoch") -> None:
        super().__init__(optimizer, interval)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(f"{type(self).__name__}: param_groups[{i}] has no "
                                     "'initial_lr'; resume with last_epoch >= 0 only after "
                                     "loading the optimizer's state")
        self.base_lrs = [float(g["initial_lr"]) for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of every group at ``self.last_epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch (or batch) and write the new learning rates into the optimizer."""
        self._step_count += 1
        self.last_epoch += 1
        self._write_lrs(self.get_lr())


class StepLR(LRScheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``: decay by ``gamma`` every ``step_size``."""

    _saved = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1, *, interval: str = "epoch") -> None:
        if not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(f"StepLR: invalid step_size {step_size!r}, expected an int >= 1")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch, interval=interval)

    def get_lr(self) -> list[float]:
        k = self.last_epoch // self.step_size
        return [b * self.gamma ** k for b in self.base_lrs]

    def _check_saved(self, state: dict[str, Any], where: str) -> dict[str, Any]:
        return {"step_size": checked_int(state["step_size"], f"{where}: step_size", 1),
                "gamma": _decay(state["gamma"], where)}


class ExponentialLR(LRScheduler):
    """``lr = base_lr * gamma ** epoch``."""

    _saved = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1, *,
                 interval: str = "epoch") -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch, interval=interval)

    def get_lr(self) -> list[float]:
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]

    def _check_saved(self, state: dict[str, Any], where: str) -> dict[str, Any]:
        return {"gamma": _decay(state["gamma"], where)}


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    Past ``T_max`` the cosine continues (the lr rises again), as in PyTorch. ``epoch`` counts
    ``step()`` calls: with ``interval="batch"``, ``T_max`` is a number of batches.
    """

    _saved = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1, *, interval: str = "epoch") -> None:
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: invalid T_max {T_max!r}, expected > 0")
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch, interval=interval)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return list(self.base_lrs)
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]

    def _check_saved(self, state: dict[str, Any], where: str) -> dict[str, Any]:
        t_max = state["T_max"]
        if not (checked_real(t_max, f"{where}: T_max", 0.0) > 0):
            raise ValueError(f"{where}: T_max must be > 0, got {t_max}")
        return {"T_max": t_max,
                "eta_min": float(checked_real(state["eta_min"], f"{where}: eta_min", 0.0))}


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), as ``torch.optim.lr_scheduler``; ``interval="batch"``
    by default (``"epoch"`` when ``total_steps`` counts epochs).

    The lr rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps`` (or ``epochs * steps_per_epoch``), then anneals to
    ``max_lr / div_factor / final_div_factor`` (``three_phase``: back to the start first).
    ``anneal_strategy`` is ``"cos"`` or ``"linear"``. With ``cycle_momentum`` (PyTorch's
    default) the optimizer's ``momentum`` (or Adam's ``betas[0]``) moves inversely, between
    ``max_momentum`` and ``base_momentum``. Stepping past ``total_steps`` raises ValueError.
    """

    _saved = ("total_steps", "phases", "anneal_strategy", "cycle_momentum", "use_beta1")

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1, *, interval: str = "batch") -> None:
        if total_steps is not None:
            if not isinstance(total_steps, numbers.Integral) or total_steps <= 0:
                raise ValueError(f"OneCycleLR: invalid total_steps {total_steps!r}, "
                                 "expected a positive int")
        elif epochs is not None and steps_per_epoch is not None:
            for name, v in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(v, numbers.Integral) or v <= 0:
                    raise ValueError(f"OneCycleLR: invalid {name} {v!r}, expected a positive int")
            total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: invalid pct_start {pct_start!r}, expected in [0, 1]")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: invalid anneal_strategy {anneal_strategy!r}, "
                             "expected 'cos' or 'linear'")
        self.total_steps = total_steps = int(total_steps)
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * total_steps) - 1
        # each phase: [end_step, start_lr key, end_lr key, start_momentum key, end_momentum key]
        if three_phase:
            self.phases = [[up, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                           [float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                            "base_momentum", "max_momentum"],
                           [total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                            "max_momentum"]]
        else:
            self.phases = [[up, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                           [total_steps - 1, "max_lr", "min_lr", "base_momentum",
                            "max_momentum"]]
        max_lrs = _per_group("OneCycleLR max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for group, m in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        self.use_beta1 = "betas" in optimizer.defaults
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and not self.use_beta1:
                raise ValueError(f"OneCycleLR: cycle_momentum=True needs an optimizer with "
                                 f"momentum or betas, got {type(optimizer).__name__}")
            maxs = _per_group("OneCycleLR max_momentum", max_momentum, optimizer)
            bases = _per_group("OneCycleLR base_momentum", base_momentum, optimizer)
            if last_epoch == -1:
                for group, m, b in zip(optimizer.param_groups, maxs, bases):
                    self._set_momentum(group, m)
                    group["max_momentum"] = m
                    group["base_momentum"] = b
        super().__init__(optimizer, last_epoch, interval=interval)

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _values(self, group: dict[str, Any]) -> tuple[float, float | None]:
        """(lr, momentum or None) of ``group`` at ``self.last_epoch``."""
        step = self.last_epoch
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
            if step <= end or i == len(self.phases) - 1:
                pct = (step - start) / (end - start) if end != start else 1.0
                lr = self._anneal(group[lr0], group[lr1], pct)
                mom = self._anneal(group[m0], group[m1], pct) if self.cycle_momentum else None
                return lr, mom
            start = end
        raise AssertionError("unreachable")

    def get_lr(self) -> list[float]:
        if self.last_epoch > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {self.last_epoch} times, but total_steps "
                             f"is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            lr, mom = self._values(group)
            lrs.append(lr)
            if mom is not None:
                self._set_momentum(group, mom)
        return lrs

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.cycle_momentum:
            for group in self.optimizer.param_groups:
                self._set_momentum(group, self._values(group)[1])

    def steps_left(self) -> int:
        """Steps before ``total_steps`` is reached (stepping past it raises ValueError)."""
        return self.total_steps - self.last_epoch

    def _check_saved(self, state: dict[str, Any], where: str) -> dict[str, Any]:
        total = checked_int(state["total_steps"], f"{where}: total_steps", 1)
        if not isinstance(state["last_epoch"], bool) and \
                isinstance(state["last_epoch"], int) and state["last_epoch"] > total:
            raise ValueError(f"{where}: last_epoch {state['last_epoch']} is past total_steps "
                             f"{total}")
        use_beta1 = checked_choice(state["use_beta1"], f"{where}: use_beta1", (True, False))
        if use_beta1 != ("betas" in self.optimizer.defaults):
            raise ValueError(f"{where}: use_beta1 is {use_beta1}, but "
                             f"{type(self.optimizer).__name__} "
                             f"{'has no' if use_beta1 else 'has'} betas")
        cycle = checked_choice(state["cycle_momentum"], f"{where}: cycle_momentum",
                               (True, False))
        phases = self._checked_phases(state["phases"], total, f"{where}: phases")
        keys = {k for phase in phases for k in phase[1:3 + 2 * cycle]}
        for i, group in enumerate(self.optimizer.param_groups):
            for key in sorted(keys):  # momenta are Adam's beta1 or SGD's momentum: below 1
                high = 1.0 if key.endswith("momentum") else None
                checked_real(group.get(key), f"{where}: the optimizer's param_groups[{i}]"
                                             f"[{key!r}]", 0.0, high, high_open=use_beta1)
        return {"total_steps": total, "phases": phases, "cycle_momentum": cycle,
                "use_beta1": use_beta1,
                "anneal_strategy": checked_choice(state["anneal_strategy"],
                                                  f"{where}: anneal_strategy", ("cos", "linear"))}

    @staticmethod
    def _checked_phases(phases: Any, total: int, where: str) -> list[list[Any]]:
        """Two or three ``[end_step, lr key, lr key, momentum key, momentum key]``, the last
        ending at ``total - 1``."""
        lrs, moms = ("initial_lr", "max_lr", "min_lr"), ("max_momentum", "base_momentum")
        ok = isinstance(phases, list) and len(phases) in (2, 3) and all(
            isinstance(p, list) and len(p) == 5 and not isinstance(p[0], bool)
            and isinstance(p[0], (int, float)) and math.isfinite(p[0]) and -2 <= p[0] < total
            and p[1] in lrs and p[2] in lrs and p[3] in moms and p[4] in moms
            for p in phases)
        if not ok or phases[-1][0] != total - 1:
            raise ValueError(f"{where} must be 2 or 3 [end step, lr key, lr key, momentum key, "
                             f"momentum key] ending at total_steps - 1 = {total - 1}, got "
                             f"{str(phases)[:60]}")
        return [list(p) for p in phases]


__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR",
           "ReduceLROnPlateau"]
