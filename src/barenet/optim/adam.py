"""Adam and AdamW (decoupled weight decay), with optional AMSGrad, as PyTorch defines them."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..nn.module import Parameter
from . import kernels
from .functional import decayed_grad, lerp
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba), updating each ``p.data`` in place exactly as ``torch.optim.Adam``.

    With g the gradient (negated if ``maximize``) and t the step count (from 1)::

        g  <- g + weight_decay * p                    (Adam)
        p  <- p * (1 - lr * weight_decay)             (AdamW, instead)
        m  <- beta1 * m + (1 - beta1) * g
        v  <- beta2 * v + (1 - beta2) * g * g
        v' =  max(v' , v) if amsgrad else v
        p  <- p - lr / (1 - beta1^t) * m / (sqrt(v') / sqrt(1 - beta2^t) + eps)

    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq`` (arrays shaped like p). Fast path: ``kernels.adam_step_``.
    """

    _required_state = frozenset({"step", "exp_avg", "exp_avg_sq"})
    _optional_state = frozenset({"max_exp_avg_sq"})
    _decoupled = False

    def __init__(self, params: Iterable[Parameter] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        self._check_range("lr", group["lr"], 0.0)
        self._check_range("eps", group["eps"], 0.0)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{self._name}: invalid betas {betas!r}, expected a pair")
        self._check_range("beta1 (betas[0])", betas[0], 0.0, 1.0)
        self._check_range("beta2 (betas[1])", betas[1], 0.0, 1.0)
        self._check_range("weight_decay", group["weight_decay"], 0.0)

    def _update(self, group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        for p in group["params"]:
            if p.grad is None:
                continue
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(p.data),
                                      "exp_avg_sq": np.zeros_like(p.data)}
            if amsgrad and "max_exp_avg_sq" not in st:
                st["max_exp_avg_sq"] = np.zeros_like(p.data)
            st["step"] += 1
            if kernels.enabled():
                kernels.adam_step_(p, st, self._scratch, decoupled=self._decoupled,
                                   **self._hyper(group))
                continue
            t = st["step"]
            if self._decoupled and weight_decay != 0:
                p.data *= 1 - lr * weight_decay
            g = decayed_grad(p, 0.0 if self._decoupled else weight_decay, group["maximize"])
            m = st["exp_avg"] = lerp(st["exp_avg"], g, 1 - beta1)  # beta1 m + (1 - beta1) g
            v = st["exp_avg_sq"] = beta2 * st["exp_avg_sq"] + (1 - beta2) * g * g
            if amsgrad:
                v = st["max_exp_avg_sq"] = np.maximum(st["max_exp_avg_sq"], v)
            bias_correction1 = 1 - beta1 ** t
            bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
            denom = np.sqrt(v) / bias_correction2_sqrt + eps
            p.data -= lr / bias_correction1 * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``:
    ``p <- p * (1 - lr * weight_decay)`` before the Adam step, which then ignores weight decay."""

    _decoupled = True

    def __init__(self, params: Iterable[Parameter] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
