"""barenet.optim: optimizers and learning-rate schedulers with PyTorch's update rules.

Every scheduler derives from ``Scheduler`` and says when it steps (``interval``: "batch",
"epoch" or "metric"); ``kernels`` holds the optimizers' in-place fast paths (on unless ``with kernels.textbook():``).
"""
from . import kernels, lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import (CosineAnnealingLR, ExponentialLR, LRScheduler, OneCycleLR,
                           ReduceLROnPlateau, StepLR)
from .optimizer import Optimizer
from .state_io import flatten_state, unflatten_state
from .rmsprop import RMSprop
from .scheduler_base import Scheduler
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "flatten_state", "unflatten_state",
           "kernels", "lr_scheduler", "Scheduler", "LRScheduler", "StepLR", "ExponentialLR",
           "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau"]
