"""The two sides of every comparison: a barenet model and its PyTorch twin, trained alike.

``torch_twin(model)`` rebuilds a barenet ``Sequential`` layer by layer in ``torch.nn`` (with
``barenet.compare.to_torch``) and copies
its weights over through ``state_dict`` (the layouts and key names are the same), so both start
from identical weights. ``Setup`` holds one framework's model, loss and optimizer (and,
optionally, the learning-rate schedule); ``train_epoch`` / ``accuracy`` / ``infer`` run them on
the same NumPy batches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

import barenet
from barenet import nn, optim

FALLBACK_HPARAMS = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0,
                    "batch_size": 64, "epochs": 15, "scheduler": "none"}


def cli_hparams(model_name: str) -> dict[str, Any]:
    """The hyper-parameters ``barenet train --model NAME`` uses by default (optimizer, lr,
    momentum, weight_decay, batch_size, epochs, scheduler); a plain SGD set if unavailable."""
    try:
        from barenet.train.config import resolve_config
        cfg = resolve_config({"model": model_name})
    except ImportError:
        return dict(FALLBACK_HPARAMS)
    return {k: cfg[k] for k in FALLBACK_HPARAMS}


# -- barenet ------------------------------------------------------------------------------------
def barenet_optimizer(params: list, hp: dict[str, Any]) -> optim.Optimizer:
    """The optimizer ``hp`` names, built by the function ``barenet train`` uses."""
    from barenet.train.factories import make_optimizer
    return make_optimizer(hp["optimizer"], params, hp["lr"], hp["momentum"], hp["weight_decay"])


def barenet_scheduler(opt: optim.Optimizer, hp: dict[str, Any], steps_per_epoch: int):
    """(scheduler or None, interval) for ``hp["scheduler"]``, as ``barenet train`` makes it."""
    if hp["scheduler"] in (None, "none"):
        return None, "epoch"
    from barenet.train.factories import make_scheduler
    sched = make_scheduler(hp["scheduler"], opt, hp["epochs"], steps_per_epoch, hp)
    return sched, "epoch" if sched is None else sched.interval


# -- PyTorch ------------------------------------------------------------------------------------
def torch_twin(model: nn.Module):
    """A ``torch.nn`` copy of barenet ``model`` (a Sequential) with the same weights: the same
    mapping ``barenet compare`` uses."""
    from barenet.compare import to_torch
    return to_torch(model)


def torch_optimizer(params: Iterable, hp: dict[str, Any]):
    """The PyTorch optimizer matching ``barenet_optimizer(params, hp)``."""
    import torch
    name, lr, mom, wd = hp["optimizer"], hp["lr"], hp["momentum"], hp["weight_decay"]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=wd)
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=(mom, 0.999), weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=mom, weight_decay=wd)
    raise ValueError(f"benchmark: unsupported optimizer {name!r}")


# -- one framework's training set-up --------------------------------------------------------------
@dataclass
class Setup:
    """A framework (``"barenet"`` or ``"torch"``) with its model, loss and optimizer.

    With ``schedule=True`` a barenet scheduler drives the learning rate (and the cycled momentum
    or beta1): barenet's own optimizer directly, PyTorch's by copying the values of a shadow
    barenet optimizer each step, so both follow the very same schedule.
    """

    framework: str
    model: Any
    criterion: Any
    opt: Any
    scheduler: Any = None
    interval: str = "epoch"
    shadow: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def sync_schedule(self) -> None:
        if self.shadow is None:
            return
        src = self.shadow.param_groups[0]
        for g in self.opt.param_groups:
            g["lr"] = src["lr"]
            if "betas" in src and "betas" in g:
                g["betas"] = (src["betas"][0], g["betas"][1])
            elif "momentum" in src and "momentum" in g:
                g["momentum"] = src["momentum"]

    def schedule_step(self, interval: str) -> None:
        if self.scheduler is not None and self.interval == interval:
            self.scheduler.step()
            self.sync_schedule()


def make_setup(framework: str, model: nn.Module, hp: dict[str, Any], schedule: bool = False,
               steps_per_epoch: int = 1) -> Setup:
    """A training set-up for ``framework`` starting from barenet ``model``'s weights (the
    barenet side trains a copy, so one model can seed both frameworks)."""
    if framework == "numpy":  # the hand-written reference step (classic MLP, SGD only)
        from numpy_floor import NumpyMLPStep
        return Setup("numpy", NumpyMLPStep(model, hp), None, None)
    if framework == "barenet":
        m = _copy_barenet(model)
        opt = barenet_optimizer(m.parameters(), hp)
        s = Setup("barenet", m, nn.CrossEntropyLoss(), opt)
        if schedule:
            s.scheduler, s.interval = barenet_scheduler(opt, hp, steps_per_epoch)
        return s
    import torch
    m = torch_twin(model)
    s = Setup("torch", m, torch.nn.CrossEntropyLoss(), torch_optimizer(m.parameters(), hp))
    if schedule:
        s.shadow = barenet_optimizer([nn.Parameter(np.zeros(1, np.float32))], hp)
        s.scheduler, s.interval = barenet_scheduler(s.shadow, hp, steps_per_epoch)
        s.sync_schedule()
    return s


def _copy_barenet(model: nn.Module) -> nn.Module:
    """An independent deep copy of ``model``: same layers, same weights, own caches."""
    import copy
    return copy.deepcopy(model)


def training_backward(model: nn.Module) -> Callable[[np.ndarray], Any]:
    """``model``'s backward as barenet's trainer calls it: the first layer skips its input
    gradient (the data does not need one)."""
    return model.backward_params_only


def train_epoch(s: Setup, batches: Iterable[tuple[np.ndarray, np.ndarray]],
                max_batches: int | None = None) -> int:
    """One pass of forward, loss, zero_grad, backward and step over ``batches``; returns the
    number of steps taken (at most ``max_batches``)."""
    steps = 0
    if s.framework == "numpy":
        for x, y in batches:
            if steps == max_batches:
                break
            s.model.step(x, y)
            steps += 1
    elif s.framework == "barenet":
        model, crit, opt = s.model, s.criterion, s.opt
        backward = training_backward(model)
        model.train()
        for x, y in batches:
            if steps == max_batches:
                break
            crit(model(x), y)
            opt.zero_grad()
            backward(crit.backward())
            opt.step()
            s.schedule_step("batch")
            steps += 1
    else:
        import torch
        model, crit, opt = s.model, s.criterion, s.opt
        model.train()
        for x, y in batches:
            if steps == max_batches:
                break
            loss = crit(model(torch.from_numpy(x)), torch.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            s.schedule_step("batch")
            steps += 1
    s.schedule_step("epoch")
    return steps


def predict(s: Setup, x: np.ndarray) -> np.ndarray:
    """Logits (N, 10) as a NumPy array, in eval mode (PyTorch under inference_mode)."""
    if s.framework == "barenet":
        return s.model(x)
    import torch
    with torch.inference_mode():
        return s.model(torch.from_numpy(x)).numpy()


def accuracy(s: Setup, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Fraction of ``x`` (already normalised) classified as ``y``; eval mode, then train."""
    s.model.eval()
    correct = sum(int(np.count_nonzero(predict(s, x[i:i + batch]).argmax(1) == y[i:i + batch]))
                  for i in range(0, len(x), batch))
    s.model.train()
    return correct / max(len(x), 1)


def versions() -> dict[str, str]:
    """barenet, numpy and torch versions (torch: "absent" if not installed)."""
    try:
        import torch
        tv = torch.__version__
    except ImportError:
        tv = "absent"
    return {"barenet": barenet.__version__, "numpy": np.__version__, "torch": tv}
