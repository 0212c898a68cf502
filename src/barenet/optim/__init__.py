"""barenet.optim: optimizers and learning-rate schedulers with PyTorch's update rules."""
from . import lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import (CosineAnnealingLR, ExponentialLR, LRScheduler, OneCycleLR,
                           ReduceLROnPlateau, StepLR)
from .optimizer import Optimizer, flatten_state, unflatten_state
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "flatten_state", "unflatten_state",
           "lr_scheduler", "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR",
           "OneCycleLR", "ReduceLROnPlateau"]
