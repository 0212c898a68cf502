"""Comparing arrays: closeness, the worst element, a catalogued mistake's match, numerical
gradients. Everything in float64.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: tolerances against the reference (same maths, different rounding order)
REF_RTOL, REF_ATOL = 1e-6, 1e-8
#: tolerances against centred differences of the learner's own forward
NUM_RTOL, NUM_ATOL = 1e-4, 1e-6
#: step of the centred differences
STEP = 1e-6
#: elements checked numerically per array (chosen at random, always the same ones)
NUM_SAMPLES = 24


def as_array(value: object) -> np.ndarray | None:
    """``value`` as a float64 array, or None when it is not numbers."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _index(shape: tuple[int, ...], flat: int) -> str:
    if not shape:
        return ""
    return " at [" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def difference(mine: object, expected: np.ndarray, rtol: float = REF_RTOL,
               atol: float = REF_ATOL, expected_name: str = "expected",
               where: tuple[tuple[int, ...], np.ndarray] | None = None) -> str | None:
    """None when ``mine`` equals ``expected`` within tolerance, else one sentence: the shape
    problem, or the worst element's index and both values. ``where`` = (shape, flat indices)
    when the arrays are samples of a larger array: indices are then shown in that shape."""
    a = as_array(mine)
    if a is None or mine is None:
        return f"got {type(mine).__name__}, expected an array of shape {expected.shape}"
    if a.shape != expected.shape:
        return f"shape {a.shape}, expected {expected.shape}"
    bad_nan = ~np.isfinite(a) & np.isfinite(expected)
    if bad_nan.any():
        i = int(np.argmax(bad_nan.ravel()))
        return (f"non-finite{_index(a.shape, i)}: yours {a.ravel()[i]} but {expected_name} "
                f"{_fmt(expected.ravel()[i])}")
    err = np.abs(a - expected) - (atol + rtol * np.abs(expected))
    err = np.where(np.isnan(err), -1.0, err)
    if err.size == 0 or err.max() <= 0:
        return None
    i = int(np.argmax(err.ravel()))
    at = _index(a.shape, i) if where is None else _index(where[0], int(where[1][i]))
    return (f"worst{at}: yours {_fmt(a.ravel()[i])} but {expected_name} "
            f"{_fmt(expected.ravel()[i])}")


def matches(mine: object, candidate: np.ndarray, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
    """True when ``mine`` equals what a mistake would produce: same number of elements (a
    transposed array reshaped still counts), the same non-finite positions, the rest close."""
    a = as_array(mine)
    b = np.asarray(candidate, dtype=np.float64)
    if a is None or a.size != b.size or a.size == 0:
        return False
    a, b = a.ravel(), b.ravel()
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return False
    return bool(np.allclose(a[fa], b[fb], rtol=rtol, atol=atol))


def sample_indices(size: int, rng: np.random.Generator, count: int = NUM_SAMPLES) -> np.ndarray:
    """Up to ``count`` distinct flat indices of an array of ``size`` elements."""
    if size <= count:
        return np.arange(size)
    return np.sort(rng.choice(size, count, replace=False))


def numeric_gradient(f: Callable[[], float], arr: np.ndarray,
                     indices: np.ndarray) -> np.ndarray:
    """Centred differences of the scalar ``f()`` with respect to ``arr`` (changed in place and
    restored) at the flat ``indices``; returns an array of ``len(indices)`` values."""
    flat = arr.reshape(-1)  # a view: arr is contiguous float64
    out = np.empty(len(indices))
    for j, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + STEP
        up = f()
        flat[i] = old - STEP
        down = f()
        flat[i] = old
        out[j] = (up - down) / (2 * STEP)
    return out
