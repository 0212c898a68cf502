"""The optimizer and learning-rate schedule of a training config, built by name."""
from __future__ import annotations

from typing import Any

from .. import optim
from ..errors import ConfigError


def make_optimizer(name: str, params: list, lr: float, momentum: float,
                   weight_decay: float) -> optim.Optimizer:
    """An optimizer by name; ``momentum`` is SGD/RMSprop momentum and Adam's beta1."""
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name in ("adam", "adamw"):
        cls = optim.Adam if name == "adam" else optim.AdamW
        return cls(params, lr=lr, betas=(momentum, 0.999), weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}")


def make_scheduler(name: str, opt: optim.Optimizer, epochs: int, steps_per_epoch: int,
                   cfg: dict[str, Any]) -> optim.Scheduler | None:
    """The scheduler for ``--scheduler``, its ``interval`` set: cosine and onecycle step per
    batch, step (x0.1 at 1/3 and 2/3 of training) per epoch, plateau on the validation loss."""
    total = epochs * steps_per_epoch
    if name == "none":
        return None
    if name == "cosine":
        return optim.CosineAnnealingLR(opt, T_max=total, interval="batch")
    if name == "onecycle":
        cycle = cfg["optimizer"] in ("adam", "adamw") or cfg["momentum"] > 0
        return optim.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total,
                                cycle_momentum=cycle, interval="batch")
    if name == "step":
        return optim.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1, interval="epoch")
    if name == "plateau":
        return optim.ReduceLROnPlateau(opt, mode="min", factor=0.2, patience=2)
    raise ConfigError(f"unknown scheduler {name!r}")



__all__ = ["make_optimizer", "make_scheduler"]
