"""Numerical gradient checks: centred finite differences against a layer's hand-written backward.

The unit of trust in this project. For a module f and a fixed random upstream gradient g, the
scalar L(x, params) = sum(f(x) * g) has dL/dx = f.backward(g); centred differences
(L(x + h e_i) - L(x - h e_i)) / 2h estimate the same numbers with error O(h^2).
Run checks in float64: float32 differences are too coarse to tell a bug from rounding.

>>> import numpy as np
>>> from barenet import nn
>>> from barenet.gradcheck import check_module
>>> layer = nn.Linear(3, 2, rng=0).astype(np.float64)
>>> x = np.random.default_rng(1).standard_normal((4, 3))
>>> check_module(layer, x, rng=2).max_error < 1e-7
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .nn.module import Module


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, 1e-8) elementwise: ~1e-10 for a correct float64 gradient."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8), initial=0.0))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dF/dx by centred differences, perturbing ``x`` in place entry by entry (restored after)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    if not np.shares_memory(flat_x, x):
        raise ValueError("numerical_gradient: x must be contiguous so it can be perturbed in place")
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        plus = f()
        flat_x[i] = old - h
        minus = f()
        flat_x[i] = old
        flat_g[i] = (plus - minus) / (2 * h)
    return grad


@dataclass
class GradCheckResult:
    """Relative error of each analytic gradient (``"input"`` and every parameter name)."""

    errors: dict[str, float] = field(default_factory=dict)
    tolerance: float = 1e-6

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.max_error <= self.tolerance

    def __str__(self) -> str:
        rows = ", ".join(f"{k}: {v:.2e}" for k, v in self.errors.items())
        return f"gradcheck {'passed' if self.ok else 'FAILED'} (tolerance {self.tolerance:.0e}): {rows}"


def check_module(module: Module, x: np.ndarray, rng: np.random.Generator | int | None = 0,
                 h: float = 1e-6, tolerance: float = 1e-6, check_input: bool = True) -> GradCheckResult:
    """Compare ``module.backward`` with finite differences for the input and every parameter.

    ``x`` and the module should be float64. Mode-dependent layers are checked in whatever mode
    they are in; a Dropout in training mode needs a fixed mask (seed it per call) to be checkable.
    """
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    x = np.array(x, dtype=np.float64, copy=True)
    out = module.forward(x)
    upstream = gen.standard_normal(out.shape)

    def loss() -> float:
        return float(np.sum(module.forward(x) * upstream))

    module.zero_grad()
    module.forward(x)
    analytic_dx = module.backward(upstream.copy())
    analytic = {name: p.grad.copy() for name, p in module.named_parameters()}

    result = GradCheckResult(tolerance=tolerance)
    if check_input:
        result.errors["input"] = rel_error(analytic_dx, numerical_gradient(loss, x, h))
    for name, p in module.named_parameters():
        result.errors[name] = rel_error(analytic[name], numerical_gradient(loss, p.data, h))
    return result


def check_loss(criterion, logits: np.ndarray, target: np.ndarray, h: float = 1e-6,
               tolerance: float = 1e-6) -> GradCheckResult:
    """Compare ``criterion.backward()`` with finite differences of ``criterion(logits, target)``."""
    logits = np.array(logits, dtype=np.float64, copy=True)
    criterion(logits, target)
    analytic = criterion.backward()
    numeric = numerical_gradient(lambda: float(criterion(logits, target)), logits, h)
    return GradCheckResult({"input": rel_error(analytic, numeric)}, tolerance)
