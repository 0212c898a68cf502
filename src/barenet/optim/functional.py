"""Textbook pieces the update rules share, in plain NumPy (each returns a new array).

The optimizers' ``_update`` methods are written with these; ``kernels.py`` holds the in-place
versions of the same arithmetic, in the same order, so both give identical numbers.
"""
from __future__ import annotations

import numpy as np

from ..nn.parameter import Parameter


def decayed_grad(p: Parameter, weight_decay: float, maximize: bool) -> np.ndarray:
    """The gradient a rule follows: ``g = -p.grad`` if ``maximize`` else ``p.grad``, plus
    ``weight_decay * p.data`` (L2 regularisation) when ``weight_decay != 0``.

    Returns ``p.grad`` itself when there is nothing to change: copy before keeping it.
    """
    g = -p.grad if maximize else p.grad
    if weight_decay != 0:
        g = g + weight_decay * p.data
    return g


def lerp(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """``a + weight * (b - a)``, the moving average ``(1 - weight) a + weight b``, rounded as
    ``torch.lerp``: computed from ``b``'s end when ``|weight| >= 0.5``."""
    if abs(weight) < 0.5:
        return a + weight * (b - a)
    return b - (1 - weight) * (b - a)
