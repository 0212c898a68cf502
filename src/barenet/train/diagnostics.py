"""Gradient flow while training (``barenet train --diagnostics``): per epoch, for every
parameter its gradient norm and its update-to-weight ratio, for every ReLU its dead units.

``GradientFlow`` watches one epoch. Used as a context manager it hands back the optimizer
step to call instead of ``optimizer.step()``; the step measures around the real one::

    with GradientFlow(model, optimizer) as step:   # ReLUs watched from here ...
        for x, y in loader:
            ...forward, loss, zero_grad, backward...
            step()                                  # optimizer.step(), measured
    columns = flow.columns()                        # ... to here (validation is not counted)

The columns (one value per epoch, ``metrics.csv`` headers):

- ``grad_norm/<param>``: mean over the epoch's steps of ||g||, the L2 norm of the loss's
  gradient right before the optimizer step (weight decay, added by the optimizer, is not in it;
  with ``--clip-grad-norm`` it is the clipped gradient, the one the optimizer steps with).
- ``update_ratio/<param>``: mean over the steps of ||w_after - w_before|| divided by the mean
  of ||w_before||: how far a step moves the weights relative to their size. The real
  difference the optimizer made (momentum, Adam's scaling, weight decay included); about
  1e-3 is healthy, far below learns slowly, far above is unstable.
- ``dead_relu/<module>``: the fraction of a ReLU's units whose output was never > 0 on any
  training batch of the epoch. A unit is a feature F of a (B, F) output or of a sequence's
  (B, T, F), and a channel C of an image map (B, C, H, W) (dead only if it fired nowhere in
  the picture, for no image).
- with ``--clip-grad-norm C`` (``clipping.py``) also ``clip/max_norm`` (C),
  ``clip/total_norm`` (mean over the steps of the L2 norm of all gradients as one vector,
  before clipping) and ``clip/fraction_clipped`` (the fraction of steps whose gradients it
  scaled down: a norm above C).

A value that cannot be computed (a weight of norm 0 all epoch, a ReLU never called, a
non-finite norm) is None. Only the trainer's epoch with diagnostics on creates this object:
without it no norm is computed and no ReLU is watched.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

from ..nn.activations import ReLU
from ..nn.module import Module

#: The kinds of column, by prefix (``clip`` only when the gradients are clipped).
KINDS = ("grad_norm", "update_ratio", "dead_relu", "clip")
#: The columns of gradient clipping (``clipping.GradientClip.columns``).
CLIP_COLUMNS = ("clip/max_norm", "clip/total_norm", "clip/fraction_clipped")
#: What a diagnostics column's name looks like: ``<kind>/<dotted parameter or module name>``.
COLUMN = re.compile(r"(grad_norm|update_ratio|dead_relu)/[A-Za-z0-9_.]{1,200}|"
                    + "|".join(CLIP_COLUMNS))


def is_column(name: Any) -> bool:
    """True for a diagnostics column name such as ``grad_norm/0.weight``."""
    return isinstance(name, str) and COLUMN.fullmatch(name) is not None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


class _ReLUWatch:
    """Records, for one ReLU, which units were ever positive (its forward, wrapped)."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.alive: np.ndarray | None = None   # bool (units,), OR-ed over the batches
        self.broken = False                    # the unit count changed: no answer
        self._own = module.__dict__.get("forward")   # an instance-level forward to restore
        original = module.forward

        def forward(x: np.ndarray) -> np.ndarray:
            out = original(x)
            self.record(out)
            return out

        object.__setattr__(module, "forward", forward)

    def record(self, out: np.ndarray) -> None:
        """OR ``out > 0`` into ``alive`` over every axis but the units' (the channels of a
        (B, C, H, W) map, else the last axis: (B, F), (B, T, F))."""
        if out.ndim < 2:   # (B,): one unit
            fired = np.array([bool((out > 0).any())])
        else:
            unit_axis = 1 if out.ndim == 4 else out.ndim - 1
            fired = (out > 0).any(axis=tuple(a for a in range(out.ndim) if a != unit_axis))
        if self.alive is None:
            self.alive = fired
        elif self.alive.shape == fired.shape:
            self.alive |= fired
        else:
            self.broken = True

    def remove(self) -> None:
        if self._own is None:
            object.__delattr__(self.module, "forward")
        else:
            object.__setattr__(self.module, "forward", self._own)

    def dead_fraction(self) -> float | None:
        if self.broken or self.alive is None or self.alive.size == 0:
            return None
        return 1.0 - float(np.count_nonzero(self.alive)) / self.alive.size


class GradientFlow:
    """One epoch's gradient-flow statistics of ``model`` trained by ``optimizer`` (see the
    module docstring). Enter it to watch the ReLUs and get the measured step; leave it before
    validation; then ``columns()``."""

    def __init__(self, model: Module, optimizer: Any) -> None:
        self.model, self.optimizer = model, optimizer
        self.params = list(model.named_parameters())
        n = len(self.params)
        self.steps = 0
        self.grad_sum = np.zeros(n)      # sums over steps of ||g||
        self.delta_sum = np.zeros(n)     # ... of ||w_after - w_before||
        self.weight_sum = np.zeros(n)    # ... of ||w_before||
        self.relus = [(name, m) for name, m in model.named_modules() if isinstance(m, ReLU)]
        self.watches: list[_ReLUWatch] = []
        self.dead: dict[str, float | None] = {}

    def __enter__(self) -> Callable[[], None]:
        self.watches = [_ReLUWatch(m) for _, m in self.relus]
        return self.step

    def __exit__(self, *exc: Any) -> None:
        self.dead = {f"dead_relu/{name}": w.dead_fraction()
                     for (name, _), w in zip(self.relus, self.watches)}
        for w in self.watches:
            w.remove()
        self.watches = []

    def step(self) -> None:
        """``optimizer.step()``, with each parameter's gradient norm measured before it and
        the change it made to the weights after it."""
        before = []
        for i, (_, p) in enumerate(self.params):
            g = p.grad
            if g is not None:
                self.grad_sum[i] += float(np.linalg.norm(g.ravel()))
            before.append(p.data.copy())
        self.optimizer.step()
        for i, (_, p) in enumerate(self.params):
            self.weight_sum[i] += float(np.linalg.norm(before[i].ravel()))
            np.subtract(p.data, before[i], out=before[i])
            self.delta_sum[i] += float(np.linalg.norm(before[i].ravel()))
        self.steps += 1

    def columns(self) -> dict[str, float | None]:
        """``{"grad_norm/<p>": ..., "update_ratio/<p>": ..., "dead_relu/<relu>": ...}`` for
        the epoch watched, in parameter order, then ReLU order."""
        out: dict[str, float | None] = {}
        steps = max(self.steps, 1)
        for i, (name, _) in enumerate(self.params):
            out[f"grad_norm/{name}"] = _finite(self.grad_sum[i] / steps) if self.steps else None
        for i, (name, _) in enumerate(self.params):
            w = self.weight_sum[i]
            out[f"update_ratio/{name}"] = _finite(self.delta_sum[i] / w) if w > 0 else None
        out.update(self.dead)
        return out


__all__ = ["CLIP_COLUMNS", "COLUMN", "GradientFlow", "KINDS", "is_column"]
