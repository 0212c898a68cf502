"""Special functions NumPy lacks: erfc, erf and the standard normal CDF, vectorised.

NumPy has no ``erf`` ufunc and ``math.erf`` one element at a time costs 0.4 us (0.2 s for the
half million values a small vision transformer's GELUs see per step). ``erfc`` here is the
Chebyshev expansion of Numerical Recipes (3rd ed., section 6.2.2): for z >= 0, with
t = 2 / (2 + z),

    erfc(z) = t * exp(-z^2 + P(4t - 2)),   P a Chebyshev series of 28 terms,

whose absolute error is below 6e-16 on [0, inf) (tests/nn/test_special.py checks it against
``math.erfc``). float32 inputs use the first 14 terms (error 1e-9, below float32's 6e-8).
"""
from __future__ import annotations

import math

import numpy as np

#: Chebyshev coefficients of the exponent; the first is used halved (Clenshaw's convention).
_ERFC_COEFFICIENTS = (
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
    -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
    -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8,
    6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11,
    2.394038e-12, -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16,
    7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
)
_TERMS = {np.dtype(np.float32): 14}


def erfc_nonnegative(z: np.ndarray) -> np.ndarray:
    """erfc(z) = 1 - erf(z) for z >= 0, any shape, in z's dtype (float32 or float64)."""
    z = np.asarray(z)
    n = _TERMS.get(z.dtype, len(_ERFC_COEFFICIENTS))
    t = 2 / (2 + z)
    ty = 4 * t - 2
    d, dd, spare = np.zeros_like(t), np.zeros_like(t), np.empty_like(t)
    for c in _ERFC_COEFFICIENTS[n - 1:0:-1]:       # Clenshaw's recurrence, highest term first
        np.multiply(ty, d, out=spare)               # new d = ty * d - dd + c, in place:
        spare -= dd                                 # three buffers take turns, no temporaries
        spare += c
        d, dd, spare = spare, d, dd
    ty *= d                                         # the exponent, reusing the buffers
    ty += _ERFC_COEFFICIENTS[0]
    ty *= 0.5
    ty -= dd
    ty -= z * z
    return t * np.exp(ty, out=ty)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element-wise: erf(x) = sign(x) * (1 - erfc(|x|))."""
    x = np.asarray(x)
    return np.sign(x) * (1 - erfc_nonnegative(np.abs(x)))


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = P(Z <= x) for a standard normal Z = (1 + erf(x / sqrt 2)) / 2, computed as
    erfc(|x| / sqrt 2) / 2 for x < 0 so that the far left tail keeps its relative precision."""
    x = np.asarray(x)
    half_tail = 0.5 * erfc_nonnegative(np.abs(x) * x.dtype.type(1 / math.sqrt(2)))
    return np.where(x < 0, half_tail, 1 - half_tail)


def normal_pdf(x: np.ndarray) -> np.ndarray:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi), the derivative of ``normal_cdf``."""
    x = np.asarray(x)
    return np.exp(-0.5 * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))


__all__ = ["erf", "erfc_nonnegative", "normal_cdf", "normal_pdf"]
