"""Loss functions: ``loss = criterion(prediction, target)`` is a Python float and
``criterion.backward()`` returns dL/d(prediction), with the prediction's shape and dtype.

Every loss takes ``reduction="mean"`` (average over all elements; over the batch for
cross-entropy) or ``"sum"``. ``backward`` uses what the forward call cached and may be called
more than once; calling it before any forward call raises ``RuntimeError``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import functional as F

_REDUCTIONS = ("mean", "sum")


class Loss:
    """Base class: validates ``reduction``, caches the forward results, prints like PyTorch."""

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', "
                             f"got {reduction!r}")
        self.reduction = reduction
        self._cache: Any = None

    def __call__(self, input: np.ndarray, target: np.ndarray) -> float:
        return self.forward(input, target)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def _require_cache(self) -> Any:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before the loss was "
                               "computed: call criterion(prediction, target) first")
        return self._cache

    def _reduce(self, per_element: np.ndarray) -> float:
        total = per_element.sum()
        return float(total / per_element.size if self.reduction == "mean" else total)

    def _scale(self, n: int) -> float:
        return 1.0 / n if self.reduction == "mean" else 1.0

    def _check_input(self, input: np.ndarray, what: str = "predictions") -> None:
        name = type(self).__name__
        if not isinstance(input, np.ndarray) or not np.issubdtype(input.dtype, np.floating):
            got = input.dtype if isinstance(input, np.ndarray) else type(input).__name__
            raise TypeError(f"{name}: expected a float32 or float64 array of {what}, got {got}")
        if input.size == 0:
            raise ValueError(f"{name}: expected a non-empty batch, got shape {input.shape}")

    def _same_shape_target(self, input: np.ndarray, target: Any,
                           unit_range: bool = False) -> np.ndarray:
        """``target`` as an array of ``input``'s dtype and shape (values in [0, 1] if asked)."""
        name = type(self).__name__
        t = np.asarray(target)
        if t.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected a numeric target, got dtype {t.dtype}")
        if t.shape != input.shape:
            raise ValueError(f"{name}: target shape {t.shape} does not match input shape "
                             f"{input.shape}")
        t = t.astype(input.dtype, copy=False)
        if unit_range and not (t.min() >= 0 and t.max() <= 1):
            raise ValueError(f"{name}: expected targets in [0, 1], got values in "
                             f"[{t.min()}, {t.max()}]")
        return t

    def _difference(self, input: np.ndarray, target: Any) -> np.ndarray:
        """input - target (the same shape, input's dtype), checked and cached for backward."""
        self._check_input(input)
        self._cache = input - self._same_shape_target(input, target)
        return self._cache

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from raw logits (N, C) and integer labels (N,) in [0, C).

    Fused log-softmax: loss_i = -log_softmax(x_i)[y_i] = logsumexp(x_i) - x_i[y_i], stable for
    any finite logits (``functional.log_softmax``). With ``label_smoothing`` e the target is
    (1 - e) * onehot + e / C. Gradient: (softmax(x) - target) / N for ``"mean"``; the softmax
    is computed once, in forward.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], "
                             f"got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        """input: logits (N, C); target: int labels (N,). Returns the loss as a float."""
        self._check_input(input, "logits (N, C)")
        if input.ndim != 2:
            raise ValueError(f"CrossEntropyLoss: expected logits of shape (N, C), got "
                             f"{input.shape}")
        n, c = input.shape
        t = np.asarray(target)
        if t.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropyLoss: expected integer class labels of shape ({n},), "
                            f"got dtype {t.dtype}")
        if t.shape != (n,):
            raise ValueError(f"CrossEntropyLoss: expected labels of shape ({n},) for logits "
                             f"{input.shape}, got {t.shape}")
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise ValueError(f"CrossEntropyLoss: label {bad} is out of range for {c} classes "
                             f"(expected 0..{c - 1})")
        log_p = F.log_softmax(input, axis=1)
        rows = np.arange(n)
        nll = -log_p[rows, t]  # -log softmax(x)[y], per sample
        e = self.label_smoothing
        if e > 0:
            # -sum_c (e / C) log p_c = -e * mean_c log p_c
            nll = (1 - e) * nll - e * log_p.mean(axis=1)
        self._cache = (np.exp(log_p), t, rows)  # softmax(x)
        return float(nll.sum() / n if self.reduction == "mean" else nll.sum())

    def backward(self) -> np.ndarray:
        """dL/dlogits (N, C) = (softmax - smoothed one-hot) * (1/N for mean)."""
        probs, t, rows = self._require_cache()
        n, c = probs.shape
        scale = self._scale(n)
        grad = probs * np.asarray(scale, dtype=probs.dtype)
        e = self.label_smoothing
        grad[rows, t] -= (1 - e) * scale
        if e > 0:
            grad -= e / c * scale
        return grad

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class MSELoss(Loss):
    """Mean squared error: mean((x - t)^2); any shape, target the same shape. Grad 2 (x - t) / n."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        return self._reduce(np.square(self._difference(input, target)))

    def backward(self) -> np.ndarray:
        diff = self._require_cache()
        return diff * np.asarray(2.0 * self._scale(diff.size), dtype=diff.dtype)


class L1Loss(Loss):
    """Mean absolute error: mean(|x - t|); any shape. Grad sign(x - t) / n (0 where x == t)."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        return self._reduce(np.abs(self._difference(input, target)))

    def backward(self) -> np.ndarray:
        diff = self._require_cache()
        return np.sign(diff) * np.asarray(self._scale(diff.size), dtype=diff.dtype)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits x and targets t in [0, 1] (same shape), stable:
    loss = softplus(x) - x t = max(x, 0) - x t + log(1 + exp(-|x|)) (``functional.softplus``).
    Gradient: (sigmoid(x) - t) / n."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        self._check_input(input, "logits")
        t = self._same_shape_target(input, target, unit_range=True)
        loss = F.softplus(input) - input * t
        self._cache = (input, t)
        return self._reduce(loss)

    def backward(self) -> np.ndarray:
        x, t = self._require_cache()
        sig = F.sigmoid(x)  # stable: exactly 0 or 1 at the extremes
        sig -= t
        sig *= np.asarray(self._scale(x.size), dtype=sig.dtype)
        return sig


class BCELoss(Loss):
    """Binary cross-entropy from probabilities p in [0, 1] and targets t in [0, 1]:
    loss = -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch does, so
    p = 0 or 1 gives a finite loss. Gradient: (p - t) / max(p (1 - p), 1e-12) / n."""

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        self._check_input(input, "probabilities")
        if not (input.min() >= 0 and input.max() <= 1):
            raise ValueError(f"BCELoss: expected probabilities in [0, 1], got values in "
                             f"[{input.min()}, {input.max()}]; use BCEWithLogitsLoss for logits")
        t = self._same_shape_target(input, target, unit_range=True)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(input), -100)
            log_q = np.maximum(np.log1p(-input), -100)
        loss = -(t * log_p + (1 - t) * log_q)
        self._cache = (input, t)
        return self._reduce(loss)

    def backward(self) -> np.ndarray:
        p, t = self._require_cache()
        denom = np.maximum(p * (1 - p), np.asarray(1e-12, dtype=p.dtype))
        grad = (p - t) / denom
        grad *= np.asarray(self._scale(p.size), dtype=grad.dtype)
        return grad
