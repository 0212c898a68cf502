"""The delicate numerics, in one place: stable log-sum-exp, softmax, log-softmax and sigmoid.

Every function here is exact or finite for extreme inputs (logits of +-1e4) and keeps the dtype
of its input. Tests in ``tests/nn/test_functional.py`` push them to those extremes.
"""
from __future__ import annotations

import numpy as np


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x))) along ``axis``, computed as m + log(sum(exp(x - m))) with m = max(x)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    with np.errstate(divide="ignore"):  # a row of -inf: log(0) = -inf, the right answer
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(softmax(x)) = x - logsumexp(x) = s - log(sum(exp(s))) with s = x - max(x) <= 0;
    finite wherever x is (an entry of -inf stays -inf)."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)): shift-invariant, never overflows."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)), as written. For very negative x (below about -88 in float32, -709 in
    float64) exp(-x) overflows to inf and 1 / (1 + inf) is exactly 0, the right limit, so that
    overflow is expected and not reported; sigmoid(+-1e4) is exactly 1 or 0. (The same formula
    through exp(-|x|) and a choice of numerator per sign avoids the overflow, but NumPy's
    ``where`` made it 4-5x slower, and it is no more accurate.)"""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|))."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def one_hot(labels: np.ndarray, num_classes: int, dtype: np.dtype = np.float32) -> np.ndarray:
    """Integer labels (N,) -> (N, num_classes) rows with a single 1 at each label."""
    labels = np.asarray(labels)
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels.reshape(-1)] = 1
    return out.reshape(labels.shape + (num_classes,))
