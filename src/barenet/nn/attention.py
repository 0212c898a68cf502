"""Multi-head self-attention: every position looks at every other, softmax(Q K^T / sqrt(d)) V.

For x (N, T, E) and h heads of size d = E / h (docs/attention.md derives every line):
    [Q, K, V] = x W_in^T + b_in                      three (N, T, E), split into (N, h, T, d)
    S = Q K^T / sqrt(d) + M                          (N, h, T, T) scores, M the masks (0 / -inf)
    P = softmax(S) over the keys (last axis)         attention weights, each row sums to 1
    O = P V                                          (N, h, T, d), heads joined to (N, T, E)
    y = O W_out^T + b_out                            ``out_proj``, a Linear

Backward, with G = dL/dO per head (from out_proj's backward):
    dV = P^T G,  dP = G V^T,  dS = P * (dP - rowsum(dP * P)),
    dQ = dS K / sqrt(d),  dK = dS^T Q / sqrt(d),  dx = [dQ, dK, dV] W_in.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import functional as F
from . import init
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, ShapeMismatch, values
from .linear import Linear
from .module import Module, Parameter
from .registry import register_layer


@register_layer
class MultiheadAttention(Module):
    """Self-attention as PyTorch's ``nn.MultiheadAttention(embed_dim, num_heads, dropout, bias,
    batch_first=True)`` computes it for ``mha(x, x, x)``; the same parameters and state_dict
    keys: ``in_proj_weight`` (3E, E) (rows: W_q, W_k, W_v), ``in_proj_bias`` (3E,),
    ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,).

    ``forward(x, attn_mask=None, key_padding_mask=None, is_causal=False)``: x (N, T, E) ->
    (N, T, E). ``attn_mask`` (T, T) or (N * num_heads, T, T): a boolean True means "query i may
    not attend to key j"; a float mask is added to the scores. ``key_padding_mask`` (N, T):
    True (or a float added) for keys to ignore, e.g. padding. ``is_causal=True`` adds the causal
    mask (no attending to later positions) itself. A query that may attend to nothing gets NaN,
    as in PyTorch. ``dropout`` drops attention weights in training.

    After ``forward``: ``attn_weights`` (N, T, T), the weights averaged over heads (what
    PyTorch returns by default), and ``attn_weights_per_head`` (N, num_heads, T, T); both are
    taken before dropout.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"embed_dim": 4, "num_heads": 2}, (5, 4))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """The image's rows as a sequence."""
        return (image_size[0], c["embed_dim"])

    ARGS = {"embed_dim": Arg("size"), "num_heads": Arg("size"), "dropout": Arg("prob", 0.0),
            "bias": Arg("bool", True), "batch_first": Arg("bool", True)}

    def config_value(self, name: str):
        return self.in_proj_bias is not None if name == "bias" else super().config_value(name)

    @classmethod
    def check_config(cls, config: dict) -> dict:
        c = super().check_config(config)
        if c["embed_dim"] % c["num_heads"]:
            raise ValueError(f"{c['embed_dim']} features cannot be split into {c['num_heads']} "
                             f"heads (not a multiple)")
        return c

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        e = c["embed_dim"]
        return 4 * e * e + 4 * e * c["bias"], 0        # in_proj (3E, E), out_proj (E, E), biases

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 2 or shape[1] != c["embed_dim"]:
            raise ShapeMismatch(f"(N, T, {c['embed_dim']})")
        return tuple(shape)

    @classmethod
    def kept_values(cls, steps: int, embed: int, heads: int) -> int:
        """Values per sample kept for backward: q, k, v, the heads joined, P (and its dropout)."""
        return 9 * steps * embed // 2 + 3 * heads * steps * steps

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps q, k, v and the softmax weights P (with dropout: also its mask and P times
        it); backward makes dP and the softmax's gradient through two more (N, h, T, T)."""
        steps, heads = shape[0], c["num_heads"]
        scores = heads * steps * steps
        kept = cls.kept_values(steps, shape[1], heads) - (0 if c["dropout"] > 0 else 2 * scores)
        return LayerMemory(cache=FLOAT * kept,
                           moment=FLOAT * (values(shape) + values(out) + 2 * scores))

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True, rng: init.RNGLike = None,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        for what, v in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"MultiheadAttention: {what} must be a positive int, got {v!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        if batch_first is not True:
            raise ValueError("MultiheadAttention: only batch_first=True is supported (inputs "
                             f"(N, T, E)), got batch_first={batch_first!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.number)) \
                or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout!r}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = float(dropout)
        self.batch_first = True
        gen = init.as_generator(rng, "MultiheadAttention")
        e = self.embed_dim
        self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype))
        self.in_proj_bias = Parameter(np.empty(3 * e, dtype)) if bias else None
        self.out_proj = Linear(e, e, bias=bias, rng=gen, dtype=dtype)
        self.rng = gen.spawn(1)[0]                          # the attention-dropout masks
        self.reset_parameters(gen)
        self._cache: tuple | None = None

    def reset_parameters(self, rng: init.RNGLike = None) -> None:
        """PyTorch's: in_proj_weight Xavier-uniform, biases 0, out_proj.weight as Linear's."""
        gen = init.as_generator(rng)
        w = self.in_proj_weight
        w.data = init.xavier_uniform(w.shape, rng=gen, dtype=w.dtype)
        w.grad = np.zeros_like(w.data)
        self.out_proj.reset_parameters(gen)
        for b in (self.in_proj_bias, self.out_proj.bias):
            if b is not None:
                b.data, b.grad = np.zeros_like(b.data), np.zeros_like(b.data)

    def __call__(self, x: np.ndarray, attn_mask: np.ndarray | None = None,
                 key_padding_mask: np.ndarray | None = None, is_causal: bool = False
                 ) -> np.ndarray:
        return self.forward(x, attn_mask, key_padding_mask, is_causal)

    def _split(self, a: np.ndarray) -> np.ndarray:
        """(N, T, E) -> (N, h, T, d): one slice of the features per head."""
        n, t, _ = a.shape
        return a.reshape(n, t, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, a: np.ndarray) -> np.ndarray:
        """(N, h, T, d) -> (N, T, E), the inverse of ``_split``."""
        n, _, t, _ = a.shape
        return a.transpose(0, 2, 1, 3).reshape(n, t, self.embed_dim)

    def forward(self, x: np.ndarray, attn_mask: np.ndarray | None = None,
                key_padding_mask: np.ndarray | None = None, is_causal: bool = False
                ) -> np.ndarray:
        """x (N, T, E) -> (N, T, E); masks as in the class docstring."""
        self._check_input(x, (3,), f"(N, T, {self.embed_dim})", size=(2, self.embed_dim))
        n, t, e = x.shape
        qkv = x @ self.in_proj_weight.data.T                # (N, T, 3E)
        if self.in_proj_bias is not None:
            qkv += self.in_proj_bias.data
        q, k, v = (self._split(qkv[..., i * e:(i + 1) * e]) for i in range(3))  # (N, h, T, d)
        scale = 1.0 / math.sqrt(self.head_dim)
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale      # (N, h, T, T)
        mask = self._mask(attn_mask, key_padding_mask, is_causal, n, t, scores.dtype)
        if mask is not None:
            scores = scores + mask
        with np.errstate(invalid="ignore"):               # a fully masked row: NaN
            p = F.softmax(scores, axis=-1)                  # (N, h, T, T), rows sum to 1
        drop = None
        if self.training and self.dropout > 0:
            keep = self.rng.random(p.shape) >= self.dropout
            drop = (keep / (1.0 - self.dropout)).astype(p.dtype)
        pd = p if drop is None else p * drop
        o = self._merge(pd @ v)                             # (N, T, E)
        y = self.out_proj(o.reshape(n * t, e))              # Linear takes (N*T, E)
        self._cache = (x, q, k, v, p, pd, drop, scale)
        return y.reshape(n, t, e)

    def _mask(self, attn_mask: Any, key_padding_mask: Any, is_causal: bool, n: int, t: int,
              dtype: np.dtype) -> np.ndarray | None:
        """The additive mask (0 or -inf, or the floats given) broadcastable to (N, h, T, T)."""
        total = None
        parts = []
        if attn_mask is not None:
            m = np.asarray(attn_mask)
            if m.shape == (n * self.num_heads, t, t):
                m = m.reshape(n, self.num_heads, t, t)
            elif m.shape != (t, t):
                raise ValueError(f"{self!r}: attn_mask must be ({t}, {t}) or "
                                 f"({n * self.num_heads}, {t}, {t}), got {m.shape}")
            parts.append(m)
        if key_padding_mask is not None:
            m = np.asarray(key_padding_mask)
            if m.shape != (n, t):
                raise ValueError(f"{self!r}: key_padding_mask must be ({n}, {t}), got {m.shape}")
            parts.append(m.reshape(n, 1, 1, t))              # the same keys for every query
        if is_causal:
            parts.append(np.triu(np.ones((t, t), dtype=bool), k=1))  # key j > query i
        for m in parts:
            if m.dtype == bool:
                m = np.where(m, dtype.type(-np.inf), dtype.type(0))
            elif not np.issubdtype(m.dtype, np.floating):
                raise TypeError(f"{self!r}: a mask must be boolean or float, got {m.dtype}")
            total = m.astype(dtype, copy=False) if total is None else total + m
        return total

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, T, E) -> dL/dx (N, T, E); accumulates every parameter's gradient."""
        self._require_cache(self._cache)
        x, q, k, v, p, pd, drop, scale = self._cache
        self._check_grad(grad_out, x.shape)
        n, t, e = x.shape
        go = self._split(self.out_proj.backward(grad_out.reshape(n * t, e)).reshape(n, t, e))
        dv = pd.transpose(0, 1, 3, 2) @ go                  # (N, h, T, d)
        dp = go @ v.transpose(0, 1, 3, 2)                   # (N, h, T, T)
        if drop is not None:
            dp = dp * drop
        ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))   # through the softmax
        ds *= scale
        dq = ds @ k                                         # (N, h, T, d)
        dk = ds.transpose(0, 1, 3, 2) @ q
        dqkv = np.concatenate([self._merge(dq), self._merge(dk), self._merge(dv)], axis=-1)
        self.in_proj_weight.accumulate_grad(dqkv.reshape(-1, 3 * e).T, x.reshape(-1, e))
        if self.in_proj_bias is not None:
            self.in_proj_bias.accumulate_grad(dqkv.sum(axis=(0, 1)))
        return dqkv @ self.in_proj_weight.data              # (N, T, E)

    @property
    def attn_weights_per_head(self) -> np.ndarray | None:
        """(N, num_heads, T, T) softmax weights of the last forward (None before one)."""
        return None if self._cache is None else self._cache[4]

    @property
    def attn_weights(self) -> np.ndarray | None:
        """(N, T, T): the last forward's weights averaged over the heads."""
        p = self.attn_weights_per_head
        return None if p is None else p.mean(axis=1)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, bias={self.in_proj_bias is not None}")
