"""Stochastic gradient descent: momentum, dampening, Nesterov, weight decay (PyTorch's rule)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..nn.module import Parameter
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD, updating each ``p.data`` in place exactly as ``torch.optim.SGD``.

    With g the gradient (negated if ``maximize``), for each step t::

        g   <- g + weight_decay * p
        b   <- g                                   (first step)
        b   <- momentum * b + (1 - dampening) * g  (later steps)
        g   <- g + momentum * b  if nesterov  else  b      (only when momentum != 0)
        p   <- p - lr * g

    State per parameter (only when momentum != 0): ``momentum_buffer``, shaped like p.
    """

    _required_state = frozenset({"momentum_buffer"})

    def __init__(self, params: Iterable[Parameter] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range("lr", group["lr"], 0.0)
        self._check_range("momentum", group["momentum"], 0.0)
        self._check_range("weight_decay", group["weight_decay"], 0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening == 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _update(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        momentum = group["momentum"]
        dampening = group["dampening"]
        weight_decay = group["weight_decay"]
        nesterov = group["nesterov"]
        maximize = group["maximize"]
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            d = p.data
            owned = False  # True once g is a scratch array this step may overwrite
            if weight_decay != 0:
                s = self._tmp(p, 0)
                np.multiply(d, weight_decay, out=s)
                (np.subtract if maximize else np.add)(s, g, out=s)
                g, owned = s, True
            elif maximize:
                s = self._tmp(p, 0)
                np.negative(g, out=s)
                g, owned = s, True
            if momentum != 0:
                st = self.state.get(p)
                if st is None:
                    buf = np.copy(g)  # keeps g's memory layout (order "K")
                    self.state[p] = {"momentum_buffer": buf}
                else:
                    buf = st["momentum_buffer"]
                    buf *= momentum
                    if dampening != 0:
                        t = self._tmp(p, 1)
                        np.multiply(g, 1 - dampening, out=t)
                        buf += t
                    else:
                        buf += g
                if nesterov:
                    t = self._tmp(p, 1)
                    np.multiply(buf, momentum, out=t)
                    t += g
                    g, owned = t, True
                else:
                    g, owned = buf, False
            if owned:
                g *= lr
                d -= g
            else:  # g is the momentum buffer or p.grad, so scratch 0 is free again
                t = self._tmp(p, 0)
                np.multiply(g, lr, out=t)
                d -= t
