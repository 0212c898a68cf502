"""The classic MLP's training step written straight in NumPy, with no framework around it.

A reference point for the MLP epoch benchmark: the same computation as barenet's step
(Linear -> ReLU -> Linear, softmax cross-entropy, SGD with momentum and weight decay) with
everything a framework adds taken out: no modules, no shape checks, no per-parameter loop.
Parameters, gradients and momentum live in three flat float32 buffers, so the SGD update is
six whole-buffer passes; every gradient is written with ``out=`` (never zeroed, never added).
Its time is roughly the lowest a NumPy implementation of this step reaches on a machine.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class NumpyMLPStep:
    """SGD training steps of a (Linear, ReLU, Linear) barenet model's weights, in plain NumPy.

    ``hp`` needs optimizer "sgd", lr, momentum and weight_decay (PyTorch's SGD rule, no
    dampening, no Nesterov). ``model`` is only read: its weights are copied.
    """

    def __init__(self, model: Any, hp: dict[str, Any]) -> None:
        kinds = [type(m).__name__ for m in model._modules.values()]
        if kinds != ["Linear", "ReLU", "Linear"] or hp["optimizer"] != "sgd":
            raise ValueError(f"numpy floor: needs Linear-ReLU-Linear and SGD, got {kinds} "
                             f"and {hp['optimizer']!r}")
        self.lr, self.momentum, self.weight_decay = hp["lr"], hp["momentum"], hp["weight_decay"]
        arrays = [p.data for p in model.parameters()]  # W1, b1, W2, b2
        n = sum(a.size for a in arrays)
        self.flat = np.empty(n, np.float32)
        self.flat_grad = np.zeros(n, np.float32)
        self.flat_buf = np.zeros(n, np.float32)
        self.flat_tmp = np.empty(n, np.float32)
        self.params, self.grads, start = [], [], 0
        for a in arrays:
            view = self.flat[start:start + a.size].reshape(a.shape)
            view[...] = a
            self.params.append(view)
            self.grads.append(self.flat_grad[start:start + a.size].reshape(a.shape))
            start += a.size
        self.first = True

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        """One forward, backward and SGD update on batch x (B, 784) float32, y (B,) labels."""
        w1, b1, w2, b2 = self.params
        gw1, gb1, gw2, gb2 = self.grads
        h = x @ w1.T
        h += b1
        r = np.maximum(h, 0)
        z = r @ w2.T
        z += b2
        z -= z.max(axis=1, keepdims=True)  # softmax, then dL/dz = (p - onehot) / B
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        z[np.arange(len(y)), y] -= 1
        z /= len(y)
        np.matmul(z.T, r, out=gw2)
        np.sum(z, axis=0, out=gb2)
        gh = z @ w2
        gh *= h > 0
        np.matmul(gh.T, x, out=gw1)
        np.sum(gh, axis=0, out=gb1)
        p, g, buf, tmp = self.flat, self.flat_grad, self.flat_buf, self.flat_tmp
        np.multiply(p, self.weight_decay, out=tmp)  # g + wd p
        tmp += g
        if self.first:  # PyTorch: the first step's buffer is the gradient itself
            buf[...] = tmp
            self.first = False
        else:
            buf *= self.momentum
            buf += tmp
        np.multiply(buf, self.lr, out=tmp)
        p -= tmp
