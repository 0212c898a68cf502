"""Checks of the optimizer exercises: sgd_momentum, adam. Each mistake is a variant of the
textbook rule, switched by a flag."""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from .. import optim
from . import stubs_training as stubs
from .optim_engine import OptimConfig, OptimMistake, OptimSpec


def sgd_rule(p: np.ndarray, g: np.ndarray, st: dict[str, Any], h: dict[str, Any], *,
             decay: bool = True, nesterov: bool = True, velocity: bool = False,
             dampen_first: bool = False) -> None:
    """PyTorch's SGD on one parameter; the flags switch on the catalogued mistakes."""
    lr, mu, damp = h.get("lr", 1e-3), h.get("momentum", 0.0), h.get("dampening", 0.0)
    if h.get("maximize"):
        g = -g
    if decay and h.get("weight_decay", 0.0):
        g = g + h["weight_decay"] * p
    if mu == 0:
        p -= lr * g
        return
    if velocity:  # v = mu v - lr g; p += v, keeping v as the buffer
        v = st.get("momentum_buffer", np.zeros_like(p))
        v = st["momentum_buffer"] = mu * v - lr * (1 - damp) * g if "momentum_buffer" in st \
            else -lr * g
        p += v
        return
    buf = st.get("momentum_buffer")
    if buf is None:
        buf = (1 - damp) * g if dampen_first else g.copy()
    else:
        buf = mu * buf + (1 - damp) * g
    st["momentum_buffer"] = buf
    step = g + mu * buf if (nesterov and h.get("nesterov")) else buf
    p -= lr * step


SGD_MOMENTUM = OptimSpec(
    "sgd_momentum", lambda ps, **h: optim.SGD(ps, **h),
    configs=(
        OptimConfig(dict(lr=0.1, momentum=0.9)),
        OptimConfig(dict(lr=0.05)),
        OptimConfig(dict(lr=0.1, momentum=0.8, weight_decay=0.01)),
        OptimConfig(dict(lr=0.1, momentum=0.9, nesterov=True)),
        OptimConfig(dict(lr=0.1, momentum=0.5, dampening=0.3)),
        OptimConfig(dict(lr=0.1, momentum=0.9, maximize=True)),
    ),
    mistakes=(
        OptimMistake("weight decay not applied",
                     "add weight_decay * p.data to the gradient before the momentum.",
                     partial(sgd_rule, decay=False)),
        OptimMistake("Nesterov ignored",
                     "with nesterov=True the step is g + momentum * b, not b.",
                     partial(sgd_rule, nesterov=False)),
        OptimMistake("velocity stored instead of the momentum buffer",
                     "PyTorch keeps b = momentum * b + g (no learning rate inside) and steps "
                     "p -= lr * b; the parameters agree but the state does not.",
                     partial(sgd_rule, velocity=True)),
        OptimMistake("dampening applied on the first step",
                     "the first step copies g into the buffer as it is; dampening only "
                     "applies from the second step.", partial(sgd_rule, dampen_first=True)),
    ),
    stub=stubs.SGD)


def adam_rule(p: np.ndarray, g: np.ndarray, st: dict[str, Any], h: dict[str, Any], *,
              correct1: bool = True, correct2: bool = True, eps_inside: bool = False,
              decoupled: bool = False) -> None:
    """PyTorch's Adam on one parameter; the flags switch on the catalogued mistakes."""
    lr, (b1, b2), eps = h.get("lr", 1e-3), h.get("betas", (0.9, 0.999)), h.get("eps", 1e-8)
    wd = h.get("weight_decay", 0.0)
    if not st:
        st.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        if h.get("amsgrad"):
            st["max_exp_avg_sq"] = np.zeros_like(p)
    st["step"] += 1
    t = st["step"]
    if h.get("maximize"):
        g = -g
    if wd and decoupled:
        p *= 1 - lr * wd
    elif wd:
        g = g + wd * p
    m = st["exp_avg"] = b1 * st["exp_avg"] + (1 - b1) * g
    v = st["exp_avg_sq"] = b2 * st["exp_avg_sq"] + (1 - b2) * g * g
    if h.get("amsgrad"):
        v = st["max_exp_avg_sq"] = np.maximum(st["max_exp_avg_sq"], v)
    m_hat = m / (1 - b1 ** t) if correct1 else m
    v_hat = v / (1 - b2 ** t) if correct2 else v
    denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
    p -= lr * m_hat / denom


ADAM = OptimSpec(
    "adam", lambda ps, **h: optim.Adam(ps, **h),
    configs=(
        OptimConfig(dict(lr=0.01)),
        OptimConfig(dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3)),
        OptimConfig(dict(lr=0.01, weight_decay=0.1)),
        OptimConfig(dict(lr=0.01, amsgrad=True), steps=6),
        OptimConfig(dict(lr=0.01, maximize=True)),
    ),
    mistakes=(
        OptimMistake("Adam without bias correction",
                     "m and v start at zero, so early averages are too small: divide m by "
                     "(1 - beta1**t) and v by (1 - beta2**t).",
                     partial(adam_rule, correct1=False, correct2=False)),
        OptimMistake("bias correction of the second moment missing",
                     "v_hat = v / (1 - beta2**t) as well as m_hat = m / (1 - beta1**t).",
                     partial(adam_rule, correct2=False)),
        OptimMistake("bias correction of the first moment missing",
                     "m_hat = m / (1 - beta1**t) as well as v_hat = v / (1 - beta2**t).",
                     partial(adam_rule, correct1=False)),
        OptimMistake("eps inside the square root",
                     "the denominator is sqrt(v_hat) + eps, eps outside the root.",
                     partial(adam_rule, eps_inside=True)),
        OptimMistake("decoupled weight decay (that is AdamW)",
                     "Adam adds weight_decay * p to the gradient before the moments; shrinking "
                     "p directly is AdamW's rule.", partial(adam_rule, decoupled=True)),
    ),
    stub=stubs.ADAM)

SPECS = (SGD_MOMENTUM, ADAM)
