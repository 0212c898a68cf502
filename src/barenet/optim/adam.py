"""Adam and AdamW (decoupled weight decay), with optional AMSGrad, as PyTorch defines them."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..nn.module import Parameter
from .optimizer import Optimizer


def _lerp_(a: np.ndarray, b: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """``a <- a + weight * (b - a)`` in place, rounded like ``torch.lerp`` (uses ``tmp``)."""
    np.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1 - weight
        np.subtract(b, tmp, out=a)


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
    ``max_exp_avg_sq`` (arrays shaped like p).
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
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        amsgrad = group["amsgrad"]
        maximize = group["maximize"]
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            d = p.data
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {"step": 0, "exp_avg": np.zeros_like(d),
                                      "exp_avg_sq": np.zeros_like(d)}
            if amsgrad and "max_exp_avg_sq" not in st:
                st["max_exp_avg_sq"] = np.zeros_like(d)
            st["step"] += 1
            step = st["step"]
            if weight_decay != 0 and self._decoupled:
                d *= 1 - lr * weight_decay
            elif weight_decay != 0:
                s = self._tmp(p, 0)
                np.multiply(d, weight_decay, out=s)
                (np.subtract if maximize else np.add)(s, g, out=s)
                g = s
            if maximize and (weight_decay == 0 or self._decoupled):
                s = self._tmp(p, 0)
                np.negative(g, out=s)
                g = s
            m, v = st["exp_avg"], st["exp_avg_sq"]
            t = self._tmp(p, 1)
            _lerp_(m, g, 1 - beta1, t)
            v *= beta2
            np.multiply(g, 1 - beta2, out=t)
            t *= g
            v += t
            bias_correction1 = 1 - beta1 ** step
            bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
            step_size = lr / bias_correction1
            if amsgrad:
                vmax = st["max_exp_avg_sq"]
                np.maximum(vmax, v, out=vmax)
                v = vmax
            np.sqrt(v, out=t)
            t /= bias_correction2_sqrt
            t += eps
            np.divide(m, t, out=t)
            t *= -step_size
            d += t


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
