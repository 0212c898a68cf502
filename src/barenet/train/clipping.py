"""Gradient clipping in the training loop (``barenet train --clip-grad-norm C``).

After ``backward`` and before the optimizer's step, every gradient of the model is scaled by
min(1, C / (||g|| + 1e-6)), ||g|| the L2 norm of all of them as one vector: ``nn.utils``'
``clip_grad_norm_``, here in its two halves (``get_total_norm``, then ``clip_grads_with_norm_``)
so that a NaN or infinite norm stops training before any gradient is touched. A step whose
norm is at most C is left exactly as it was.

Over one epoch it also counts what ``--diagnostics`` records (``columns()``): the threshold,
the mean norm before clipping and the fraction of steps it scaled down.
"""
from __future__ import annotations

import math

from ..nn.module import Module
from ..nn.utils.clip_grad import clip_coefficient, clip_grads_with_norm_, get_total_norm


class GradientClip:
    """Clips ``model``'s gradients to total L2 norm ``max_norm`` each time it is called; one
    per epoch (its counts are that epoch's)."""

    def __init__(self, model: Module, max_norm: float) -> None:
        self.params = model.parameters()
        self.max_norm = float(max_norm)
        self.steps = 0          # steps clipped or not
        self.clipped = 0        # ... of them scaled down (coefficient < 1)
        self.norm_sum = 0.0     # sum over the steps of the norm before clipping
        self.last = 0.0         # the last step's norm before clipping

    def __call__(self) -> bool:
        """Clip this step's gradients in place. False, with nothing changed, when their norm
        is NaN or infinite (the training has diverged; ``last`` holds the norm)."""
        total = get_total_norm([p.grad for p in self.params if p.grad is not None])
        self.last = float(total)
        if not math.isfinite(self.last):
            return False
        clip_grads_with_norm_(self.params, self.max_norm, total)
        self.steps += 1
        self.clipped += bool(clip_coefficient(self.max_norm, total) < 1)
        self.norm_sum += self.last
        return True

    def columns(self) -> dict[str, float | None]:
        """The epoch's ``clip/...`` columns (``diagnostics.py``); None where no step ran."""
        steps = self.steps
        return {"clip/max_norm": self.max_norm,
                "clip/total_norm": self.norm_sum / steps if steps else None,
                "clip/fraction_clipped": self.clipped / steps if steps else None}


__all__ = ["GradientClip"]
