"""Stochastic gradient descent: momentum, dampening, Nesterov, weight decay (PyTorch's rule)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..nn.module import Parameter
from . import kernels
from .functional import decayed_grad
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
    Fast path: ``kernels.sgd_step_``.
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
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state.setdefault(p, {}) if momentum != 0 else {}
            if kernels.enabled():
                kernels.sgd_step_(p, state, self._scratch, **self._hyper(group))
                continue
            g = decayed_grad(p, group["weight_decay"], group["maximize"])
            if momentum != 0:
                buf = state.get("momentum_buffer")
                buf = np.copy(g) if buf is None else momentum * buf + (1 - dampening) * g
                state["momentum_buffer"] = buf
                g = g + momentum * buf if group["nesterov"] else buf
            p.data -= lr * g
