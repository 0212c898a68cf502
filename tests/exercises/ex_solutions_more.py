"""Solutions of the training-craft and sequence exercises written apart from barenet's own
classes, each with a ``mistake`` switch for planted mistakes."""
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.optim import Optimizer


def _grad(p: nn.Parameter, value: np.ndarray) -> None:
    p.grad = p.grad + value


class Dropout(nn.Module):
    mistake: str | None = None

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        self.p, self.rng = p, np.random.default_rng(rng)

    def forward(self, x):
        if (not self.training and self.mistake != "eval") or self.p == 0:
            self.mask = np.ones_like(x)
            return x
        keep = self.rng.random(x.shape) >= self.p
        scale = {"unscaled": 1.0, "times": 1 - self.p}.get(self.mistake, 1 / (1 - self.p))
        self.mask = keep * scale
        return x * self.mask

    def backward(self, g):
        return g if self.mistake == "backward unmasked" else g * self.mask


class BatchNorm1d(nn.Module):
    mistake: str | None = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, dtype=np.float32):
        super().__init__()
        self.eps, self.m = eps, momentum
        self.weight = nn.Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = nn.Parameter(np.zeros(num_features, dtype)) if affine else None
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))
        self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x):
        n = x.shape[0]
        if self.training or self.mistake == "batch in eval":
            mu = x.sum(0) / n
            var = ((x - mu) ** 2).sum(0) / n
            if self.training:
                unbiased = var if self.mistake == "biased running" else var * n / (n - 1)
                m = 1 - self.m if self.mistake == "momentum swapped" else self.m
                self.running_mean = (1 - m) * self.running_mean + m * mu
                self.running_var = (1 - m) * self.running_var + m * unbiased
        else:
            mu, var = self.running_mean, self.running_var
        self.inv = 1 / np.sqrt(var + self.eps)
        self.xhat = (x - mu) * self.inv
        w = 1.0 if self.weight is None else self.weight.data
        b = 0.0 if self.bias is None else self.bias.data
        return self.xhat * w + b

    def backward(self, g):
        if self.weight is not None:
            _grad(self.weight, (g * self.xhat).sum(0))
            _grad(self.bias, g.sum(0))
        w = 1.0 if self.weight is None else self.weight.data
        gx = g * w
        if not self.training or self.mistake == "no stats terms":
            return gx * self.inv
        if self.mistake == "no var term":
            return (gx - gx.mean(0)) * self.inv
        return (gx - gx.mean(0) - self.xhat * (gx * self.xhat).mean(0)) * self.inv


class SGD(Optimizer):
    mistake: str | None = None

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def step(self, closure=None):
        for h in self.param_groups:
            for p in h["params"]:
                if p.grad is None:
                    continue
                g = -p.grad if h["maximize"] else p.grad
                if self.mistake != "no decay":
                    g = g + h["weight_decay"] * p.data
                mu = h["momentum"]
                if mu and self.mistake == "velocity":  # v = mu v - lr g;  p += v
                    st = self.state.setdefault(p, {})
                    v = st.get("momentum_buffer")
                    v = -h["lr"] * g if v is None else mu * v - h["lr"] * (1 - h["dampening"]) * g
                    st["momentum_buffer"] = v
                    p.data = p.data + v
                    continue
                if mu:
                    st = self.state.setdefault(p, {})
                    b = st.get("momentum_buffer")
                    first = (1 - h["dampening"]) if self.mistake == "dampen first" else 1.0
                    b = first * g if b is None else mu * b + (1 - h["dampening"]) * g
                    st["momentum_buffer"] = b
                    nest = h["nesterov"] and self.mistake != "no nesterov"
                    g = g + mu * b if nest else b
                p.data = p.data - h["lr"] * g


class Adam(Optimizer):
    mistake: str | None = None

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def step(self, closure=None):
        for h in self.param_groups:
            b1, b2 = h["betas"]
            for p in h["params"]:
                if p.grad is None:
                    continue
                st = self.state.setdefault(p, {"step": 0, "exp_avg": np.zeros_like(p.data),
                                               "exp_avg_sq": np.zeros_like(p.data)})
                st["step"] += 1
                t = st["step"]
                g = -p.grad if h["maximize"] else p.grad
                if self.mistake == "decoupled":
                    p.data = p.data * (1 - h["lr"] * h["weight_decay"])
                else:
                    g = g + h["weight_decay"] * p.data
                st["exp_avg"] = b1 * st["exp_avg"] + (1 - b1) * g
                st["exp_avg_sq"] = b2 * st["exp_avg_sq"] + (1 - b2) * g ** 2
                v = st["exp_avg_sq"]
                if h["amsgrad"]:
                    v = st["max_exp_avg_sq"] = np.maximum(st.get("max_exp_avg_sq", 0 * v), v)
                c1 = 1.0 if self.mistake in ("no correction", "no correction 1") else 1 - b1 ** t
                c2 = 1.0 if self.mistake in ("no correction", "no correction 2") else 1 - b2 ** t
                if self.mistake == "eps inside":
                    denom = np.sqrt(v / c2 + h["eps"])
                else:
                    denom = np.sqrt(v / c2) + h["eps"]
                p.data = p.data - h["lr"] * (st["exp_avg"] / c1) / denom


class _Recurrent(nn.Module):
    gates = 1
    mistake: str | None = None

    def __init__(self, input_size, hidden_size, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        r, self.h = self.gates * hidden_size, hidden_size
        self.weight_ih_l0 = nn.Parameter(np.zeros((r, input_size), dtype))
        self.weight_hh_l0 = nn.Parameter(np.zeros((r, hidden_size), dtype))
        self.bias_ih_l0 = nn.Parameter(np.zeros(r, dtype)) if bias else None
        self.bias_hh_l0 = nn.Parameter(np.zeros(r, dtype)) if bias else None

    def _pre(self, xt, h):
        a = xt @ self.weight_ih_l0.data.T + h @ self.weight_hh_l0.data.T
        if self.bias_ih_l0 is not None:
            a = a + self.bias_ih_l0.data + self.bias_hh_l0.data
        return a

    def _grads(self, da, x, hprev):
        _grad(self.weight_ih_l0, np.einsum("nta,nti->ai", da, x))
        _grad(self.weight_hh_l0, np.einsum("nta,ntj->aj", da, hprev))
        if self.bias_ih_l0 is not None:
            _grad(self.bias_ih_l0, da.sum((0, 1)))
            _grad(self.bias_hh_l0, da.sum((0, 1)))
        return da @ self.weight_ih_l0.data


class RNN(_Recurrent):
    def forward(self, x):
        n, steps, _ = x.shape
        hs = [np.zeros((n, self.h))]
        self.a = []
        for t in range(steps):
            self.a.append(self._pre(x[:, t], hs[-1]))
            hs.append(np.tanh(self.a[-1]))
        self.x, self.hs = x, np.stack(hs, axis=1)
        return self.hs[:, 1:].copy()

    def backward(self, g):
        da = np.zeros_like(g)
        dh = np.zeros((g.shape[0], self.h))
        for t in range(g.shape[1] - 1, -1, -1):
            dh = g[:, t] if self.mistake == "no bptt" else dh + g[:, t]
            local = 1 - self.a[t] ** 2 if self.mistake == "at a" else 1 - self.hs[:, t + 1] ** 2
            da[:, t] = dh * local
            dh = da[:, t] @ self.weight_hh_l0.data
        hprev = self.hs[:, 1:] if self.mistake == "hh current" else self.hs[:, :-1]
        return self._grads(da, self.x, hprev)


def _sig(a):
    return 0.5 * (1 + np.tanh(0.5 * a))


class LSTM(_Recurrent):
    gates = 4
    order = (0, 1, 2, 3)   # where i, f, g, o are read from: the planted orders change it

    def forward(self, x):
        n, steps, _ = x.shape
        H = self.h
        h, c = np.zeros((n, H)), np.zeros((n, H))
        self.x, self.cache, hs = x, [], [h]
        for t in range(steps):
            a = self._pre(x[:, t], h)
            blk = [a[:, k * H:(k + 1) * H] for k in self.order]
            i, f, gg, o = _sig(blk[0]), _sig(blk[1]), np.tanh(blk[2]), _sig(blk[3])
            c_new = f * c + i * gg
            h = o * np.tanh(c_new)
            self.cache.append((i, f, gg, o, c, c_new))
            c = c_new
            hs.append(h)
        self.hs = np.stack(hs, axis=1)
        return self.hs[:, 1:].copy()

    def backward(self, g):
        n, steps, H = g.shape
        da = np.zeros((n, steps, 4 * H))
        dh, dc = np.zeros((n, H)), np.zeros((n, H))
        for t in range(steps - 1, -1, -1):
            i, f, gg, o, c_prev, c = self.cache[t]
            dh = dh + g[:, t]
            tc = np.tanh(c)
            dc = dc + dh * o * (1 - tc ** 2)
            parts = [dc * gg * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - gg ** 2),
                     dh * tc * o * (1 - o)]
            for k, part in zip(self.order, parts):
                da[:, t, k * H:(k + 1) * H] = part
            dc = dc * f
            dh = da[:, t] @ self.weight_hh_l0.data
        return self._grads(da, self.x, self.hs[:, :-1])


class LayerNorm(nn.Module):
    mistake: str | None = None

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=np.float32):
        super().__init__()
        self.eps = eps
        aff = elementwise_affine
        self.weight = nn.Parameter(np.ones(normalized_shape, dtype)) if aff else None
        self.bias = nn.Parameter(np.zeros(normalized_shape, dtype)) if aff and bias else None

    def forward(self, x):
        axis = 0 if self.mistake == "batch axis" else -1
        ddof = 1 if self.mistake == "unbiased" else 0
        mu = x.mean(axis, keepdims=True)
        self.inv = 1 / np.sqrt(x.var(axis, keepdims=True, ddof=ddof) + self.eps)
        self.xhat = (x - mu) * self.inv
        y = self.xhat * (1.0 if self.weight is None else self.weight.data)
        return y if self.bias is None else y + self.bias.data

    def backward(self, g):
        rows = tuple(range(g.ndim - 1))
        if self.weight is not None:
            _grad(self.weight, (g * self.xhat).sum(rows))
            if self.bias is not None:
                _grad(self.bias, g.sum(rows))
        gx = g * (1.0 if self.weight is None else self.weight.data)
        if self.mistake == "no stats terms":
            return gx * self.inv
        return (gx - gx.mean(-1, keepdims=True)
                - self.xhat * (gx * self.xhat).mean(-1, keepdims=True)) * self.inv


class SelfAttention(nn.Module):
    mistake: str | None = None

    def __init__(self, embed_dim, bias=True, rng=None, dtype=np.float32):
        super().__init__()
        e = embed_dim
        self.in_proj_weight = nn.Parameter(np.zeros((3 * e, e), dtype))
        self.in_proj_bias = nn.Parameter(np.zeros(3 * e, dtype)) if bias else None
        self.out_proj = nn.Linear(e, e, bias=bias, dtype=dtype)

    def forward(self, x):
        n, t, e = x.shape
        qkv = np.einsum("nti,oi->nto", x, self.in_proj_weight.data)
        if self.in_proj_bias is not None:
            qkv = qkv + self.in_proj_bias.data
        q, k, v = np.split(qkv, 3, axis=-1)
        self.scale = 1.0 if self.mistake == "no scale" else 1 / np.sqrt(e)
        s = np.einsum("nid,njd->nij", q, k) * self.scale
        axis = -2 if self.mistake == "query axis" else -1
        s = np.exp(s - s.max(axis, keepdims=True))
        self.p = s / s.sum(axis, keepdims=True)
        self.x, self.q, self.k, self.v = x, q, k, v
        o = np.einsum("nij,njd->nid", self.p, v)
        return self.out_proj(o.reshape(n * t, e)).reshape(n, t, e)

    def backward(self, g):
        n, t, e = g.shape
        go = self.out_proj.backward(g.reshape(n * t, e)).reshape(n, t, e)
        p = self.p
        dv = np.einsum("nij,nid->njd", p, go)
        dp = np.einsum("nid,njd->nij", go, self.v)
        if self.mistake == "elementwise softmax":
            ds = p * (1 - p) * dp
        else:
            ds = p * (dp - (dp * p).sum(-1, keepdims=True))
        ds = ds * self.scale
        dq = np.einsum("nij,njd->nid", ds, self.k)
        dk = np.einsum("nij,nid->njd", ds, self.q)
        dqkv = np.concatenate([dq, dk, dv], axis=-1)
        _grad(self.in_proj_weight, np.einsum("nto,nti->oi", dqkv, self.x))
        if self.in_proj_bias is not None:
            _grad(self.in_proj_bias, dqkv.sum((0, 1)))
        return dqkv @ self.in_proj_weight.data
