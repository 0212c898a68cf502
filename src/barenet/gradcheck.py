"""Numerical gradient checks: centred finite differences against a layer's hand-written backward.

The unit of trust in this project. For a module f and a fixed random upstream gradient g, the
scalar L(x, params) = sum(f(x) * g) has dL/dx = f.backward(g); centred differences
(L(x + h e_i) - L(x - h e_i)) / 2h estimate the same numbers with error O(h^2).
Run checks in float64: float32 differences are too coarse to tell a bug from rounding.

Each error is relative, entry by entry; entries smaller than ``NOISE_FRACTION`` of the largest
gradient in the check are measured against that level instead, because there the differences
measure round-off, not the derivative. A wrong backward gives errors of 1e-3 to 1; a correct one
gives 1e-7 or less (tolerance 1e-6).

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
from typing import Any, Callable

import numpy as np

from .nn.init import as_generator, find_generators
from .nn.module import Module

#: Entries of a gradient smaller than this fraction of the largest gradient entry in the same
#: check are compared absolutely against that level: below it, finite differences measure
#: round-off, not the derivative (e.g. a bias followed by batch norm has gradient exactly 0).
NOISE_FRACTION = 1e-3


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    """max_i |a_i - b_i| / max(|a_i| + |b_i|, floor): ~1e-10 for a correct float64 gradient."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor), initial=0.0))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5,
                       order: int = 2) -> np.ndarray:
    """dF/dx by centred differences, perturbing ``x`` in place entry by entry (restored after).

    ``order=2``: (F(x+h) - F(x-h)) / 2h, error O(h^2). ``order=4``: the five-point stencil
    (-F(x+2h) + 8F(x+h) - 8F(x-h) + F(x-2h)) / 12h, error O(h^4), which allows a larger h and
    so less round-off when F is a scalar of size 1 whose gradient entries are small (a loss
    averaged over a batch).
    """
    if order not in (2, 4):
        raise ValueError(f"numerical_gradient: order must be 2 or 4, got {order!r}")
    # Both flattened in x's own memory order (row- or column-major), so that index i is the
    # same element of x and grad, and flat_x is a view of x.
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x = x.reshape(-1, order="A")
    flat_g = grad.reshape(-1, order="A")
    if not np.shares_memory(flat_x, x):
        raise ValueError("numerical_gradient: x must be contiguous so it can be perturbed in place")

    def at(i: int, value: float) -> float:
        flat_x[i] = value
        return f()

    for i in range(flat_x.size):
        old = flat_x[i]
        if order == 2:
            flat_g[i] = (at(i, old + h) - at(i, old - h)) / (2 * h)
        else:
            flat_g[i] = (8 * (at(i, old + h) - at(i, old - h))
                         - (at(i, old + 2 * h) - at(i, old - 2 * h))) / (12 * h)
        flat_x[i] = old
    return grad


def numerical_vjp(f: Callable[[], np.ndarray], x: np.ndarray, upstream: np.ndarray,
                  h: float = 1e-5) -> np.ndarray:
    """d(sum(f() * upstream))/dx by centred differences of the whole output, perturbing ``x`` in
    place entry by entry. Outputs that do not move cancel exactly, so the round-off is that of
    the entries that change, not that of the whole sum."""
    # Both flattened in x's own memory order (row- or column-major), so that index i is the
    # same element of x and grad, and flat_x is a view of x.
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x = x.reshape(-1, order="A")
    flat_g = grad.reshape(-1, order="A")
    if not np.shares_memory(flat_x, x):
        raise ValueError("numerical_vjp: x must be contiguous so it can be perturbed in place")
    up = np.asarray(upstream, dtype=np.float64).reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        plus = np.array(f(), dtype=np.float64).reshape(-1)  # a copy: f may return a view of x
        flat_x[i] = old - h
        minus = np.asarray(f(), dtype=np.float64).reshape(-1)
        flat_g[i] = np.dot(plus - minus, up) / (2 * h)
        flat_x[i] = old
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


def _compare(analytic: dict[str, np.ndarray], numeric: dict[str, np.ndarray],
             tolerance: float) -> GradCheckResult:
    scale = max((float(np.max(np.abs(g), initial=0.0)) for g in numeric.values()), default=0.0)
    floor = max(1e-8, NOISE_FRACTION * scale)
    return GradCheckResult({k: rel_error(analytic[k], numeric[k], floor) for k in numeric},
                           tolerance)


def check_module(module: Module, x: np.ndarray, rng: np.random.Generator | int | None = 0,
                 h: float = 1e-5, tolerance: float = 1e-6, check_input: bool = True) -> GradCheckResult:
    """Compare ``module.backward`` with finite differences for the input and every parameter.

    ``x`` and the module should be float64. Mode-dependent layers are checked in whatever mode
    they are in. Every random Generator the module holds is rewound before each forward pass,
    so a Dropout in training mode keeps one fixed mask for the whole check. Buffers (running
    statistics) are restored afterwards; parameter grads are left holding the analytic values.
    """
    gen = as_generator(rng, "check_module")
    x = np.array(x, dtype=np.float64, copy=True)
    # every Generator the module holds, with its current state, so draws can be replayed
    generators = [(g, g.bit_generator.state) for g in find_generators({"": module}).values()]
    buffers = {name: np.array(b, copy=True) for name, b in module.named_buffers()}

    def forward() -> np.ndarray:
        for g, state in generators:
            g.bit_generator.state = state
        return module.forward(x)

    try:
        upstream = gen.standard_normal(forward().shape)
        module.zero_grad()
        forward()
        analytic_dx = module.backward(upstream.copy())
        analytic = {name: p.grad.copy() for name, p in module.named_parameters()}
        numeric = {}
        if check_input:
            analytic["input"] = analytic_dx
            numeric["input"] = numerical_vjp(forward, x, upstream, h)
        for name, p in module.named_parameters():
            numeric[name] = numerical_vjp(forward, p.data, upstream, h)
    finally:
        for name, value in buffers.items():
            owner, _, attr = name.rpartition(".")
            target = dict(module.named_modules())[owner] if owner else module
            setattr(target, attr, value)
    return _compare(analytic, numeric, tolerance)


def check_loss(criterion: Any, logits: np.ndarray, target: np.ndarray, h: float = 1e-4,
               tolerance: float = 1e-6) -> GradCheckResult:
    """Compare ``criterion.backward()`` with finite differences of ``criterion(logits, target)``
    (five-point stencil). Keep inputs at least a few ``h`` away from kinks (|x - t| = 0 for
    L1Loss) and probabilities away from 0 and 1 for BCELoss."""
    logits = np.array(logits, dtype=np.float64, copy=True)
    criterion(logits, target)
    analytic = criterion.backward()
    numeric = numerical_gradient(lambda: float(criterion(logits, target)), logits, h, order=4)
    return _compare({"input": analytic}, {"input": numeric}, tolerance)
