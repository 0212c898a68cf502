"""Gradient clipping with PyTorch's names and numbers: ``clip_grad_norm_``, ``clip_grad_value_``.

Clipping by global norm treats every parameter's gradient as one long vector ``g`` and, when its
p-norm exceeds ``max_norm``, scales all of them by the same factor, so the step keeps its
direction and only its length is capped::

    total = || (||g_1||_p, ||g_2||_p, ...) ||_p      the norm of the per-parameter norms
    coef  = min(1, max_norm / (total + 1e-6))
    g_k  <- coef * g_k                               in place, for every gradient

This is ``torch.nn.utils.clip_grad_norm_`` step for step: each gradient's norm is taken in
its own dtype, the norms are stacked in their common dtype (float64 if any is), the
coefficient is ``(1 / (total + 1e-6)) * max_norm`` in that dtype (how PyTorch evaluates
``max_norm / tensor``), and each gradient is multiplied by it cast to its own dtype. PyTorch
also multiplies when the coefficient is 1 (to spare a GPU a synchronisation); multiplying by
exactly 1.0 changes no bit of any value, so here that pass is skipped.
"""
from __future__ import annotations

import math
import types
import warnings
from typing import Any, Iterable, Union

import numpy as np

from ..parameter import Parameter

Parameters = Union[Parameter, Iterable[Parameter]]
#: Added to the total norm before dividing (PyTorch's constant).
EPS = 1e-6


class NonFiniteNormError(RuntimeError):
    """The total gradient norm is NaN or infinite and ``error_if_nonfinite=True`` was asked
    (a RuntimeError, as PyTorch raises)."""


def _parameter_list(parameters: Parameters) -> list[Parameter]:
    """One Parameter -> [it]; an iterable (a generator too) -> a list, read once."""
    if isinstance(parameters, Parameter):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    params = list(parameters)
    if is_generator and not params:
        warnings.warn("clip_grad_norm_: `parameters` is an empty generator, no gradient "
                      "clipping will occur", stacklevel=3)
    return params


def _norm_type(norm_type: float | str) -> float:
    """``norm_type`` as a float: 2, 1, 0.5, ``float('inf')`` or the string ``'inf'``."""
    try:
        return float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"clip_grad_norm_: norm_type must be a number or 'inf', got "
                         f"{str(norm_type)[:40]!r}") from None


def vector_norm(x: np.ndarray, p: float) -> np.floating:
    """The p-norm of all entries of ``x`` (any shape), in ``x``'s dtype: (sum |x|^p)^(1/p);
    max |x| for p = inf, min |x| for -inf, the count of non-zeros for p = 0."""
    flat = np.ravel(x)
    if flat.size == 0 and (p < 0 or math.isinf(p)):
        raise ValueError(f"clip_grad_norm_: the {p:g} norm of an empty gradient is undefined "
                         "(the reduction has no identity)")
    if p == 2:
        return np.sqrt(np.dot(flat, flat))
    a = np.abs(flat)
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return flat.dtype.type(np.count_nonzero(flat))
    if p == 1:
        return a.sum()
    return np.sum(a ** p) ** (1.0 / p)


def get_total_norm(tensors: np.ndarray | Iterable[np.ndarray], norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None
                   ) -> np.floating:
    """The p-norm of the arrays ``tensors`` (one array or several) seen as one vector: the
    norm of their norms. A NumPy scalar in their common dtype; ``np.float32(0.0)`` for none.
    ``foreach`` is accepted for PyTorch's signature and has no effect here."""
    tensors = [tensors] if isinstance(tensors, np.ndarray) else list(tensors)
    p = _norm_type(norm_type)
    if not tensors:
        return np.float32(0.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        norms = [vector_norm(t, p) for t in tensors]
        total = vector_norm(np.array(norms, dtype=np.result_type(*norms)), p)
    if error_if_nonfinite and not np.isfinite(total):
        raise NonFiniteNormError(
            f"the total norm of order {p:g} of the gradients is {total}, so they cannot be "
            "clipped; to scale them by it anyway pass error_if_nonfinite=False")
    return total


def clip_coefficient(max_norm: float, total_norm: Any) -> np.floating:
    """min(1, max_norm / (total_norm + 1e-6)) in ``total_norm``'s dtype, evaluated as PyTorch
    does; NaN when the total is NaN, 0 when it is infinite."""
    total = np.asarray(total_norm)
    if total.ndim != 0:
        raise ValueError(f"clip_grad_norm_: total_norm must be one number, got shape "
                         f"{total.shape}")
    if total.dtype.kind != "f":
        total = total.astype(np.float64)
    dt = total.dtype.type
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        coef = dt(1) / (total[()] + dt(EPS)) * dt(float(max_norm))
    return np.minimum(coef, dt(1))


def clip_grads_with_norm_(parameters: Parameters, max_norm: float, total_norm: Any,
                          foreach: bool | None = None) -> None:
    """Scale every gradient of ``parameters`` in place by ``clip_coefficient(max_norm,
    total_norm)``, given a total norm computed before (``get_total_norm``)."""
    params = [parameters] if isinstance(parameters, Parameter) else parameters
    grads = [p.grad for p in params if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    coef = clip_coefficient(max_norm, total_norm)
    if coef == 1:   # x * 1.0 == x, bit for bit (NaN, inf and -0.0 included): nothing to do
        return
    with np.errstate(over="ignore", invalid="ignore"):
        for g in grads:
            g *= g.dtype.type(coef)


def clip_grad_norm_(parameters: Parameters, max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None
                    ) -> np.floating:
    """Clip the gradients of ``parameters`` (one Parameter or an iterable, a generator too;
    those whose ``grad`` is None are skipped) so that their total ``norm_type``-norm is at
    most ``max_norm``; in place. Returns the total norm before clipping, a NumPy scalar in the
    gradients' common dtype (0 when there are none).

    A NaN or infinite total raises NonFiniteNormError with ``error_if_nonfinite=True``;
    otherwise the gradients are multiplied by the coefficient it gives (NaN, or 0 for an
    infinite total), as PyTorch does. ``foreach`` is accepted and has no effect.
    """
    params = _parameter_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters: Parameters, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every entry of every gradient of ``parameters`` into [-clip_value, clip_value],
    in place (a gradient of None is skipped). Unlike ``clip_grad_norm_`` this changes the
    gradient's direction. ``foreach`` is accepted and has no effect."""
    params = [parameters] if isinstance(parameters, Parameter) else parameters
    clip_value = float(clip_value)
    for p in params:
        g = p.grad
        if g is not None:
            np.clip(g, -clip_value, clip_value, out=g)


__all__ = ["EPS", "NonFiniteNormError", "clip_coefficient", "clip_grad_norm_",
           "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "vector_norm"]
