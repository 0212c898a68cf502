"""Solutions of the MLP and CNN exercises written apart from barenet's layers (loops and
einsum where barenet uses im2col). Each class has a ``mistake`` switch: a planted mistake is a
subclass that sets it."""
from __future__ import annotations

import numpy as np

from barenet import nn


def _add(p: nn.Parameter, value: np.ndarray, assign: bool = False) -> None:
    if assign:
        p.grad = value.copy()
    else:
        p.grad = p.grad + value


class Linear(nn.Module):
    mistake: str | None = None

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        self.weight = nn.Parameter(np.zeros((out_features, in_features), dtype))
        self.bias = nn.Parameter(np.zeros(out_features, dtype)) if bias else None

    def forward(self, x):
        self.x = x
        y = np.einsum("ni,oi->no", x, self.weight.data)
        return y if self.bias is None else y + self.bias.data

    def backward(self, g):
        m = self.mistake
        dw = (self.x.T @ g).reshape(self.weight.shape) if m == "transposed" else g.T @ self.x
        _add(self.weight, dw, m == "assigned")
        if self.bias is not None:
            _add(self.bias, g.mean(0) if m == "bias mean" else g.sum(0), m == "assigned")
        return g @ self.weight.data.T if m == "dx transposed" else g @ self.weight.data


class ReLU(nn.Module):
    mistake: str | None = None

    def forward(self, x):
        self.pos = x > 0
        return np.where(self.pos, x, 0.0)

    def backward(self, g):
        if self.mistake == "upstream mask":
            return g * (g > 0)
        if self.mistake == "unmasked":
            return g.copy()
        if self.mistake == "mask only":
            return self.pos.astype(float)
        if self.mistake == "in place":
            g *= self.pos
            return g
        return g * self.pos


class Sigmoid(nn.Module):
    mistake: str | None = None

    def forward(self, x):
        e = np.exp(-np.abs(x))
        self.x, self.y = x, np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.y

    def backward(self, g):
        if self.mistake == "at input":
            return g * self.x * (1 - self.x)
        if self.mistake == "no 1-y":
            return g * self.y
        return g * self.y * (1 - self.y)


class Tanh(nn.Module):
    mistake: str | None = None

    def forward(self, x):
        self.x, self.y = x, np.tanh(x)
        return self.y

    def backward(self, g):
        if self.mistake == "at input":
            return g * (1 - self.x ** 2)
        if self.mistake == "not squared":
            return g * (1 - self.y)
        if self.mistake == "factor":
            return 0.5 * g * (1 - self.y ** 2)
        return g * (1 - self.y ** 2)


class CrossEntropyLoss:
    mistake: str | None = None

    def __init__(self, reduction="mean", label_smoothing=0.0):
        self.reduction, self.e = reduction, label_smoothing

    def forward(self, x, t):
        n, c = x.shape
        with np.errstate(all="ignore"):
            z = x if self.mistake == "no max" else x - x.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        q = np.full((n, c), self.e / c)
        q[np.arange(n), t] += 1 - self.e
        self.p, self.q, self.n = np.exp(logp), q, n
        per = -(q * logp).sum(axis=1)
        return float(per.mean() if self.reduction == "mean" else per.sum())

    def backward(self):
        scale = 1 / self.n if self.reduction == "mean" else 1.0
        if self.mistake == "no /N":
            scale = 1.0
        if self.mistake == "no onehot":
            return self.p * scale
        return (self.p - self.q) * scale


class MSELoss:
    mistake: str | None = None

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def forward(self, x, t):
        self.d = x - t
        self.n = x.shape[0] if self.mistake == "batch mean" else x.size
        total = float((self.d ** 2).sum())
        return total / self.n if self.reduction == "mean" else total

    def backward(self):
        scale = 1 / self.n if self.reduction == "mean" else 1.0
        k = {"no 2": 1.0, "sign": -2.0}.get(self.mistake, 2.0)
        return k * self.d * scale


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


class Conv2d(nn.Module):
    """Direct loops over kernel offsets and einsum (barenet uses im2col)."""

    mistake: str | None = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 rng=None, dtype=np.float32):
        super().__init__()
        self.k, self.s, self.pad = _pair(kernel_size), _pair(stride), _pair(padding)
        self.weight = nn.Parameter(np.zeros((out_channels, in_channels) + self.k, dtype))
        self.bias = nn.Parameter(np.zeros(out_channels, dtype)) if bias else None

    def _w(self):
        w = self.weight.data
        return w[:, :, ::-1, ::-1] if self.mistake == "flipped" else w

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.pad
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        n, _, hp, wp = xp.shape
        ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
        y = np.zeros((n, self.weight.shape[0], ho, wo))
        w = self._w()
        for u in range(kh):
            for v in range(kw):
                patch = xp[:, :, u:u + sh * ho:sh, v:v + sw * wo:sw]
                y += np.einsum("nchw,oc->nohw", patch, w[:, :, u, v])
        if self.bias is not None:
            y += self.bias.data[None, :, None, None]
        self.xp, self.shape_out = xp, (ho, wo)
        return y

    def backward(self, g):
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.pad
        ho, wo = self.shape_out
        dxp = np.zeros_like(self.xp)
        dw = np.zeros_like(self.weight.data)
        w = self.weight.data
        for u in range(kh):
            for v in range(kw):
                patch = self.xp[:, :, u:u + sh * ho:sh, v:v + sw * wo:sw]
                dw[:, :, u, v] = np.einsum("nohw,nchw->oc", g, patch)
                dxp[:, :, u:u + sh * ho:sh, v:v + sw * wo:sw] += np.einsum("nohw,oc->nchw", g,
                                                                          w[:, :, u, v])
        self.weight.grad = self.weight.grad + dw
        if self.bias is not None:
            db = g.sum(axis=(0, 2, 3))
            if self.mistake == "bias mean":
                db = db / g.shape[0]
            if self.mistake == "bias mean all":
                db = g.mean(axis=(0, 2, 3))
            self.bias.grad = self.bias.grad + db
        h, w_ = dxp.shape[2] - 2 * ph, dxp.shape[3] - 2 * pw
        return dxp[:, :, ph:ph + h, pw:pw + w_]


class MaxPool2d(nn.Module):
    mistake: str | None = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.k = _pair(kernel_size)
        self.s = self.k if stride is None else _pair(stride)
        self.pad = _pair(padding)

    def forward(self, x):
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.pad
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
        stack = np.stack([xp[:, :, u:u + sh * ho:sh, v:v + sw * wo:sw]
                          for u in range(kh) for v in range(kw)])      # (K, N, C, Ho, Wo)
        self.arg, self.xshape, self.pshape, self.out = stack.argmax(0), x.shape, xp.shape, (ho, wo)
        return stack.max(0)

    def backward(self, g):
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.pad
        ho, wo = self.out
        dxp = np.zeros(self.pshape)
        for j, (u, v) in enumerate((u, v) for u in range(kh) for v in range(kw)):
            if self.mistake == "every":
                share = g
            elif self.mistake == "average":
                share = g / (kh * kw)
            else:
                share = g * (self.arg == j)
            dxp[:, :, u:u + sh * ho:sh, v:v + sw * wo:sw] += share
        h, w = self.xshape[2:]
        return dxp[:, :, ph:ph + h, pw:pw + w]
