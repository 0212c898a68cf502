"""Classification and regression metrics on NumPy arrays, vectorised (no loop over samples)."""
from __future__ import annotations

import numpy as np

from ..nn.functional import log_softmax


def _labels(y: np.ndarray, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
        raise ValueError(f"{what}: expected a 1-D array of integer labels, got shape {y.shape} "
                         f"dtype {y.dtype}")
    return y.astype(np.int64, copy=False)


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    return t, p


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of labels predicted exactly: mean(y_true == y_pred); y (N,) ints. NaN if N = 0."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else float("nan")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """int64 (k, k) counts: row = true class, column = predicted class."""
    t, p = _pair(y_true, y_pred)
    for name, y in (("y_true", t), ("y_pred", p)):
        if y.size and (y.min() < 0 or y.max() >= k):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise ValueError(f"{name}: label {bad} out of range for {k} classes")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class (precision, recall, f1, support) float64 (k,) each (support int64) from a
    confusion matrix (k, k). A class never predicted (or never present) scores 0, not NaN."""
    cm = np.asarray(cm, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"precision_recall_f1: expected a square confusion matrix, got {cm.shape}")
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1, support


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy of logits (N, C) against labels (N,), computed in float64."""
    t = _labels(y, "labels")
    if logits.ndim != 2 or logits.shape[0] != t.size:
        raise ValueError(f"cross_entropy: logits {logits.shape} do not match {t.size} labels")
    if t.size == 0:
        return float("nan")
    logp = log_softmax(np.asarray(logits, dtype=np.float64), axis=1)
    return float(-logp[np.arange(t.size), t].mean())


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot over all elements (same shapes)."""
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape:
        raise ValueError(f"r2_score: shapes differ, {t.shape} vs {p.shape}")
    ss_res = float(np.sum((t - p) ** 2))
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return 1.0 - ss_res / ss_tot


__all__ = ["accuracy", "confusion_matrix", "cross_entropy", "precision_recall_f1", "r2_score"]
