"""The backward pass made visible: input gradients (``gradients.py``) and adversarial examples.

Everything here works on pixels in [0, 1], the 28x28 picture a person sees; the chain rule runs
through the run's normalisation, so the gradients are with respect to those pixels.
"""
from .gradients import fgsm, input_gradient, pixels_to_input, smooth_gradient
from .record import explain

__all__ = ["explain", "fgsm", "input_gradient", "pixels_to_input", "smooth_gradient"]
