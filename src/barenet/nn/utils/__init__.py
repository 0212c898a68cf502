"""barenet.nn.utils: helpers over a model's parameters, with PyTorch's names (gradient
clipping: ``clip_grad_norm_``, ``clip_grad_value_``)."""
from .clip_grad import (
    NonFiniteNormError,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)

__all__ = ["NonFiniteNormError", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]
