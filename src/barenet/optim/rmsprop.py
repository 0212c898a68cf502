"""RMSprop with optional momentum and centring, as PyTorch defines it."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..nn.module import Parameter
from .adam import _lerp_
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
    and ``grad_avg`` (centered), arrays shaped like p.
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
        lr = group["lr"]
        alpha = group["alpha"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        momentum = group["momentum"]
        centered = group["centered"]
        maximize = group["maximize"]
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            d = p.data
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {"step": 0, "square_avg": np.zeros_like(d)}
            if momentum > 0 and "momentum_buffer" not in st:
                st["momentum_buffer"] = np.zeros_like(d)
            if centered and "grad_avg" not in st:
                st["grad_avg"] = np.zeros_like(d)
            st["step"] += 1
            if weight_decay != 0:
                s = self._tmp(p, 0)
                np.multiply(d, weight_decay, out=s)
                (np.subtract if maximize else np.add)(s, g, out=s)
                g = s
            elif maximize:
                s = self._tmp(p, 0)
                np.negative(g, out=s)
                g = s
            v = st["square_avg"]
            t = self._tmp(p, 1)
            v *= alpha
            np.multiply(g, 1 - alpha, out=t)
            t *= g
            v += t
            if centered:
                a = st["grad_avg"]
                _lerp_(a, g, 1 - alpha, t)
                np.multiply(a, a, out=t)
                np.subtract(v, t, out=t)
                np.sqrt(t, out=t)
            else:
                np.sqrt(v, out=t)
            t += eps
            np.divide(g, t, out=t)
            if momentum > 0:
                buf = st["momentum_buffer"]
                buf *= momentum
                buf += t
                np.multiply(buf, lr, out=t)
                d -= t
            else:
                t *= lr
                d -= t
