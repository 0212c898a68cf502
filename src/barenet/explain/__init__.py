"""The backward pass made visible: input gradients (``gradients.py``, ``record.py``) and
adversarial examples (``attack.py``); their figures in ``figures.py``.

Everything here works on pixels in [0, 1], the 28x28 picture a person sees; the chain rule runs
through the run's normalisation, so the gradients are with respect to those pixels.
"""
from .attack import attack_run, check_eps
from .gradients import fgsm, input_gradient, pixels_to_input, sign_step, smooth_gradient
from .record import explain, strongest

__all__ = ["attack_run", "check_eps", "explain", "fgsm", "input_gradient", "pixels_to_input",
           "sign_step", "smooth_gradient", "strongest"]
