"""Checks of the sequence exercises: rnn, lstm, layernorm, attention."""
from __future__ import annotations

import numpy as np

from .. import nn
from . import stubs_sequence as stubs
from .spec import Config, Context, Mistake, Spec
from .specs_mlp import normal

F64 = np.float64


def _rnn_grads(c: Context, through_time: bool = True, hh_current: bool = False,
               derivative_at_a: bool = False) -> dict[str, np.ndarray]:
    """An Elman RNN's gradients, with the catalogued mistakes as switches."""
    x, g, p = c.inputs[0], c.g, c.params
    w_ih, w_hh = p["weight_ih_l0"], p["weight_hh_l0"]
    b = p["bias_ih_l0"] + p["bias_hh_l0"] if "bias_ih_l0" in p else 0.0
    n, steps, _ = x.shape
    hs, pre = [np.zeros((n, w_hh.shape[0]))], []
    for t in range(steps):
        pre.append(x[:, t] @ w_ih.T + hs[-1] @ w_hh.T + b)
        hs.append(np.tanh(pre[-1]))
    da = np.zeros_like(g)
    dh = np.zeros_like(hs[0])
    for t in reversed(range(steps)):
        dh = (dh if through_time else 0) + g[:, t]
        local = 1 - pre[t] ** 2 if derivative_at_a else 1 - hs[t + 1] ** 2
        da[:, t] = dh * local
        dh = da[:, t] @ w_hh
    h_for_hh = np.stack(hs[1:] if hh_current else hs[:-1], axis=1)
    flat = da.reshape(-1, da.shape[-1])
    out = {"dL/dx": da @ w_ih, "dL/dweight_ih_l0": flat.T @ x.reshape(n * steps, -1),
           "dL/dweight_hh_l0": flat.T @ h_for_hh.reshape(n * steps, -1)}
    if "bias_ih_l0" in p:
        out["dL/dbias_ih_l0"] = out["dL/dbias_hh_l0"] = flat.sum(axis=0)
    return out


def sequences(n: int, t: int, features: int, scale: float = 1.0):
    return normal(n, t, features, scale=scale)


def _rnn(**kwargs: object) -> nn.RNN:
    return nn.RNN(**kwargs)


RNN = Spec(
    "rnn", "module", _rnn,
    configs=(
        Config(dict(input_size=3, hidden_size=4, bias=True, dtype=F64), sequences(2, 5, 3)),
        Config(dict(input_size=2, hidden_size=3, bias=False, dtype=F64), sequences(3, 4, 2)),
        Config(dict(input_size=4, hidden_size=2, bias=True, dtype=F64), sequences(2, 1, 4),
               note="one time step"),
    ),
    mistakes=(
        Mistake("no backpropagation through time",
                "h_t also feeds step t + 1: add the gradient coming back from later steps "
                "(dh = da_{t+1} W_hh) to g_t before going through tanh.",
                lambda c: _rnn_grads(c, through_time=False)),
        Mistake("W_hh gradient from h_t instead of h_{t-1}",
                "a_t = ... + h_{t-1} W_hh^T, so dW_hh = sum_t da_t^T h_{t-1}, the PREVIOUS "
                "state.", lambda c: _rnn_grads(c, hh_current=True)),
        Mistake("tanh derivative taken at the pre-activation",
                "tanh'(a) = 1 - tanh(a)^2 = 1 - h_t^2: use the output h_t, not a_t.",
                lambda c: _rnn_grads(c, derivative_at_a=True)),
    ),
    stub=stubs.RNN)


def _permuted_lstm(order: tuple[int, int, int, int]):
    """The output of an LSTM that reads its four gate blocks in ``order``."""
    def produce(c: Context) -> dict[str, np.ndarray]:
        h = c.kwargs["hidden_size"]
        rows = np.concatenate([np.arange(k * h, (k + 1) * h) for k in order])
        lstm = nn.LSTM(**c.kwargs)
        lstm.load_state_dict({k: np.array(v)[rows] for k, v in c.params.items()})
        return {"output": lstm.forward(c.inputs[0])}
    return produce


LSTM = Spec(
    "lstm", "module", lambda **k: nn.LSTM(**k),
    configs=(
        Config(dict(input_size=3, hidden_size=4, bias=True, dtype=F64), sequences(2, 4, 3)),
        Config(dict(input_size=2, hidden_size=3, bias=False, dtype=F64), sequences(3, 3, 2)),
        Config(dict(input_size=3, hidden_size=2, bias=True, dtype=F64), sequences(2, 6, 3, 2.0)),
    ),
    mistakes=(
        Mistake("LSTM gates in the wrong order (i, f, o, g)",
                "PyTorch and barenet stack the gate rows as i, f, g, o: the candidate g is "
                "rows 2H:3H (tanh), the output gate o rows 3H:4H (sigmoid).",
                _permuted_lstm((0, 1, 3, 2))),
        Mistake("LSTM input and forget gates swapped",
                "the gate rows are i, f, g, o: the input gate i is rows 0:H, the forget gate "
                "f rows H:2H.", _permuted_lstm((1, 0, 2, 3))),
        Mistake("LSTM gates in the order i, g, f, o",
                "the gate rows are i, f, g, o: f is rows H:2H, the candidate g rows 2H:3H.",
                _permuted_lstm((0, 2, 1, 3))),
    ),
    stub=stubs.LSTM)


def _layernorm(**kwargs: object) -> nn.LayerNorm:
    """barenet's LayerNorm with a weight and bias that are not ones and zeros."""
    layer = nn.LayerNorm(**kwargs)
    rng = np.random.default_rng(3)
    for p in (layer.weight, layer.bias):
        if p is not None:
            p.data = rng.standard_normal(p.shape) * 0.5 + (1.0 if p is layer.weight else 0.0)
    return layer


def _ln_stats(c: Context, axis: int = -1, ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
    x = c.inputs[0]
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=ddof)
    return (x - mu) / np.sqrt(var + c.kwargs.get("eps", 1e-5)), \
        1 / np.sqrt(var + c.kwargs.get("eps", 1e-5))


def _ln_affine(c: Context, xhat: np.ndarray) -> np.ndarray:
    return xhat * c.params.get("weight", 1.0) + c.params.get("bias", 0.0)


LAYERNORM = Spec(
    "layernorm", "module", _layernorm,
    configs=(
        Config(dict(normalized_shape=5, dtype=F64), normal(4, 5, scale=2.0)),
        Config(dict(normalized_shape=6, dtype=F64), normal(2, 3, 6)),
        Config(dict(normalized_shape=4, elementwise_affine=False, dtype=F64), normal(3, 4)),
        Config(dict(normalized_shape=5, bias=False, eps=1e-3, dtype=F64), normal(3, 5)),
    ),
    mistakes=(
        Mistake("LayerNorm backward missing the terms through the mean and variance",
                "every x in a row moves the row's mean and variance: dL/dx = (gx - mean(gx) - "
                "xhat * mean(gx * xhat)) / sqrt(var + eps), gx = g * weight.",
                lambda c: {"dL/dx": c.g * c.params.get("weight", 1.0) * _ln_stats(c)[1]}),
        Mistake("normalised over the batch instead of the features",
                "layer norm takes each row's own statistics over its LAST axis (axis=-1), not "
                "over the batch (that is batch norm).",
                lambda c: {"output": _ln_affine(c, _ln_stats(c, axis=0)[0])}),
        Mistake("unbiased variance in LayerNorm",
                "the variance divides by D, not D - 1 (np.var's default ddof=0).",
                lambda c: {"output": _ln_affine(c, _ln_stats(c, ddof=1)[0])}),
    ),
    stub=stubs.LAYERNORM)


def _attention_ref(embed_dim: int, bias: bool = True, rng: object = None,
                   dtype: type = F64) -> nn.MultiheadAttention:
    """barenet's one-head attention, with non-zero biases."""
    mha = nn.MultiheadAttention(embed_dim, 1, bias=bias, rng=rng, dtype=dtype)
    gen = np.random.default_rng(5)
    for p in (mha.in_proj_bias, mha.out_proj.bias):
        if p is not None:
            p.data = gen.standard_normal(p.shape) * 0.3
    return mha


def _attention(c: Context, scale: bool = True, axis: int = -1,
               elementwise_softmax: bool = False) -> dict[str, np.ndarray]:
    """One head's output and gradients, with the catalogued mistakes as switches."""
    x, g, p = c.inputs[0], c.g, c.params
    n, t, e = x.shape
    w = p["in_proj_weight"]
    qkv = x @ w.T + p.get("in_proj_bias", 0.0)
    q, k, v = qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
    s = q @ k.transpose(0, 2, 1) / (np.sqrt(e) if scale else 1.0)
    s = np.exp(s - s.max(axis=axis, keepdims=True))
    prob = s / s.sum(axis=axis, keepdims=True)
    o = prob @ v
    w_out = p["out_proj.weight"]
    y = o @ w_out.T + p.get("out_proj.bias", 0.0)
    go = g @ w_out
    dv = prob.transpose(0, 2, 1) @ go
    dp = go @ v.transpose(0, 2, 1)
    ds = prob * (1 - prob) * dp if elementwise_softmax else \
        prob * (dp - np.sum(dp * prob, axis=-1, keepdims=True))
    ds = ds / (np.sqrt(e) if scale else 1.0)
    dqkv = np.concatenate([ds @ k, ds.transpose(0, 2, 1) @ q, dv], axis=-1)
    out = {"output": y, "dL/dx": dqkv @ w,
           "dL/din_proj_weight": dqkv.reshape(-1, 3 * e).T @ x.reshape(-1, e)}
    if "in_proj_bias" in p:
        out["dL/din_proj_bias"] = dqkv.sum(axis=(0, 1))
    return out


ATTENTION = Spec(
    "attention", "module", _attention_ref,
    configs=(
        Config(dict(embed_dim=4, bias=True, dtype=F64), normal(2, 3, 4)),
        Config(dict(embed_dim=3, bias=False, dtype=F64), normal(1, 4, 3)),
        Config(dict(embed_dim=6, bias=True, dtype=F64), normal(2, 5, 6, scale=2.0)),
    ),
    mistakes=(
        Mistake("attention without 1/sqrt(d)",
                "scale the scores: S = Q K^T / sqrt(d), or the softmax saturates as d grows "
                "(and dQ, dK carry the same 1/sqrt(d)).", lambda c: _attention(c, scale=False)),
        Mistake("softmax over the queries instead of the keys",
                "each query's weights over the keys sum to 1: softmax along the LAST axis of "
                "S (N, T_query, T_key).", lambda c: _attention(c, axis=-2)),
        Mistake("softmax backward taken elementwise",
                "softmax mixes a row: dS = P * (dP - sum_j dP * P), not P (1 - P) dP.",
                lambda c: _attention(c, elementwise_softmax=True)),
    ),
    stub=stubs.ATTENTION)

SPECS = (RNN, LSTM, LAYERNORM, ATTENTION)
