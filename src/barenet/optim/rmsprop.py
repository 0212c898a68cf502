"""RMSprop with optional momentum and centring, as PyTorch defines it."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..nn.module import Parameter
from . import kernels
from .functional import decayed_grad, lerp
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton), updating each ``p.data`` in place exactly as ``torch.optim.RMSprop``.

    With g the gradient (negated if ``maximize``)::

        g   <- g + weight_decay * p
        v   <- alpha * v + (1 - alpha) * g * g
        a   <- alpha * a + (1 - alpha) * g                       (centered)
        den =  sqrt(v - a * a) if centered else sqrt(v),  then + eps
        b   <- momentum * b + g / den;  p <- p - lr * b          (momentum > 0)
        p   <- p - lr * g / den                                   (momentum == 0)

    State per parameter: ``step`` (int), ``square_avg``, and ``momentum_buffer`` (momentum > 0)
    and ``grad_avg`` (centered), arrays shaped like p. Fast path: ``kernels.rmsprop_step_``.
    """

    _required_state = frozenset({"step", "square_avg"})
    _optional_state = frozenset({"momentum_buffer", "grad_avg"})

    def __init__(self, params: Iterable[Parameter] | Iterable[dict[str, Any]], lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range("lr", group["lr"], 0.0)
        self._check_range("eps", group["eps"], 0.0)
        self._check_range("momentum", group["momentum"], 0.0)
        self._check_range("weight_decay", group["weight_decay"], 0.0)
        self._check_range("alpha", group["alpha"], 0.0)

    def _update(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum, centered = group["momentum"], group["centered"]
        for p in group["params"]:
            if p.grad is None:
                continue
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {"step": 0, "square_avg": np.zeros_like(p.data)}
            if momentum > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = np.zeros_like(p.data)
            if centered and "grad_avg" not in st:
                st["grad_avg"] = np.zeros_like(p.data)
            st["step"] += 1
            if kernels.enabled():
                kernels.rmsprop_step_(p, st, self._scratch, **self._hyper(group))
                continue
            g = decayed_grad(p, group["weight_decay"], group["maximize"])
            v = st["square_avg"] = alpha * st["square_avg"] + (1 - alpha) * g * g
            if centered:
                a = st["grad_avg"] = lerp(st["grad_avg"], g, 1 - alpha)
                avg = np.sqrt(v - a * a) + eps
            else:
                avg = np.sqrt(v) + eps
            if momentum > 0:
                buf = st["momentum_buffer"] = momentum * st["momentum_buffer"] + g / avg
                p.data -= lr * buf
            else:
                p.data -= lr * (g / avg)
