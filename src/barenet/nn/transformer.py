"""One transformer encoder layer: self-attention and a two-layer MLP, each in a residual branch.

Pre-norm (``norm_first=True``, what vision transformers use):
    x = x + dropout1(self_attn(norm1(x)));   x = x + dropout2(ff(norm2(x)))
Post-norm (``norm_first=False``, the original transformer and PyTorch's default):
    x = norm1(x + dropout1(self_attn(x)));   x = norm2(x + dropout2(ff(x)))
with ff(x) = linear2(dropout(activation(linear1(x)))). A residual branch y = x + f(x) has
the backward dL/dx = g + f'(x)^T g: the gradient reaches x directly, and through f.
"""
from __future__ import annotations

import numpy as np

from . import init
from .activations import GELU, ReLU
from .attention import MultiheadAttention
from .dropout import Dropout
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, ShapeMismatch, values
from .layernorm import LayerNorm
from .linear import Linear
from .module import Module
from .registry import register_layer


@register_layer
class TransformerEncoderLayer(Module):
    """PyTorch's ``nn.TransformerEncoderLayer`` with ``batch_first=True``: the same arguments,
    submodule names and state_dict keys (``self_attn.in_proj_weight``, ``linear1.weight``,
    ``norm1.weight``, ...), so a PyTorch layer's weights load as they are.

    Shapes: x (N, T, d_model) -> (N, T, d_model). ``forward(x, src_mask=None,
    src_key_padding_mask=None, is_causal=False)`` passes the masks to the attention.
    ``activation``: "relu" or "gelu".
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"d_model": 4, "nhead": 2, "dim_feedforward": 8, "dropout": 0.0}, (5, 4))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """The image's rows as a sequence."""
        return (image_size[0], c["d_model"])

    ARGS = {"d_model": Arg("size"), "nhead": Arg("size"), "dim_feedforward": Arg("size", 2048),
            "dropout": Arg("prob", 0.1), "activation": Arg("activation", "relu"),
            "layer_norm_eps": Arg("eps", 1e-5), "batch_first": Arg("bool", True),
            "norm_first": Arg("bool", False), "bias": Arg("bool", True)}

    def config_value(self, name: str):
        if name == "bias":
            return self.linear1.bias is not None
        if name == "dropout":
            return self.dropout.p
        if name == "activation":
            return "gelu" if isinstance(self.activation, GELU) else "relu"
        return super().config_value(name)

    @classmethod
    def check_config(cls, config: dict) -> dict:
        c = super().check_config(config)
        if c["d_model"] % c["nhead"]:
            raise ValueError(f"{c['d_model']} features cannot be split into {c['nhead']} heads "
                             f"(not a multiple)")
        return c

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        e, f, b = c["d_model"], c["dim_feedforward"], c["bias"]
        attention = 4 * e * e + 4 * e * b
        return attention + 2 * e * f + (f + e) * b + 2 * e * (1 + b), 0

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 2 or shape[1] != c["d_model"]:
            raise ShapeMismatch(f"(N, T, {c['d_model']})")
        return tuple(shape)

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Its attention's caches (see MultiheadAttention), plus the norms', feed-forward's and
        dropouts'; its largest moment is the attention's backward (two (h, T, T) arrays) or
        the activation's backward on the hidden (T, dim_feedforward), whichever is larger."""
        steps, e = shape
        ff = c["dim_feedforward"]
        scores = c["nhead"] * steps * steps
        kept = (MultiheadAttention.kept_values(steps, e, c["nhead"]) + 3 * steps * e
                + 3 * steps * ff - (0 if c["dropout"] > 0 else 2 * scores))
        act = (GELU if c["activation"] == "gelu" else ReLU).step_memory(
            {}, (steps, ff), (steps, ff), False)
        return LayerMemory(cache=FLOAT * kept,
                           moment=FLOAT * (values(shape) + values(out))
                           + max(FLOAT * 2 * scores, act.moment + act.cache))

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, norm_first: bool = False, bias: bool = True,
                 rng: init.RNGLike = None, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        if activation not in ("relu", "gelu"):
            raise ValueError(f"TransformerEncoderLayer: activation must be 'relu' or 'gelu', "
                             f"got {activation!r}")
        if isinstance(dim_feedforward, bool) or not isinstance(dim_feedforward, (int, np.integer)) \
                or dim_feedforward <= 0:
            raise ValueError(f"TransformerEncoderLayer: dim_feedforward must be a positive int, "
                             f"got {dim_feedforward!r}")
        gen = init.as_generator(rng, "TransformerEncoderLayer")
        self.d_model, self.nhead = int(d_model), int(nhead)
        self.dim_feedforward = int(dim_feedforward)
        self.layer_norm_eps = float(layer_norm_eps)
        self.batch_first = bool(batch_first)
        self.norm_first = bool(norm_first)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first,
                                            rng=gen, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias, rng=gen, dtype=dtype)
        self.dropout = Dropout(dropout, rng=gen.spawn(1)[0])
        self.linear2 = Linear(dim_feedforward, d_model, bias, rng=gen, dtype=dtype)
        self.norm1 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=gen.spawn(1)[0])
        self.dropout2 = Dropout(dropout, rng=gen.spawn(1)[0])
        self.activation = GELU() if activation == "gelu" else ReLU()
        self._shape: tuple[int, ...] | None = None

    def __call__(self, x: np.ndarray, src_mask: np.ndarray | None = None,
                 src_key_padding_mask: np.ndarray | None = None,
                 is_causal: bool = False) -> np.ndarray:
        return self.forward(x, src_mask, src_key_padding_mask, is_causal)

    def forward(self, x: np.ndarray, src_mask: np.ndarray | None = None,
                src_key_padding_mask: np.ndarray | None = None,
                is_causal: bool = False) -> np.ndarray:
        """x (N, T, d_model) -> (N, T, d_model)."""
        self._check_input(x, (3,), f"(N, T, {self.d_model})", size=(2, self.d_model))
        self._shape = x.shape
        masks = (src_mask, src_key_padding_mask, is_causal)
        if self.norm_first:
            x = x + self._attention(self.norm1(x), masks)
            return x + self._feedforward(self.norm2(x))
        x = self.norm1(x + self._attention(x, masks))
        return self.norm2(x + self._feedforward(x))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, T, d_model) -> dL/dx (N, T, d_model): each residual branch adds its
        gradient to the one that skips it."""
        self._require_cache(self._shape)
        self._check_grad(grad_out, self._shape)
        g = grad_out
        if self.norm_first:
            g = g + self.norm2.backward(self._feedforward_backward(g))
            return g + self.norm1.backward(self._attention_backward(g))
        g = self.norm2.backward(g)
        g = g + self._feedforward_backward(g)
        g = self.norm1.backward(g)
        return g + self._attention_backward(g)

    def _attention(self, x: np.ndarray, masks: tuple) -> np.ndarray:
        return self.dropout1(self.self_attn(x, *masks))

    def _attention_backward(self, g: np.ndarray) -> np.ndarray:
        return self.self_attn.backward(self.dropout1.backward(g))

    def _feedforward(self, x: np.ndarray) -> np.ndarray:
        """linear2(dropout(activation(linear1(x)))), on the (N*T, d_model) rows."""
        n, t, e = x.shape
        hidden = self.dropout(self.activation(self.linear1(x.reshape(n * t, e))))
        return self.dropout2(self.linear2(hidden).reshape(n, t, e))

    def _feedforward_backward(self, g: np.ndarray) -> np.ndarray:
        n, t, e = g.shape
        g = self.dropout2.backward(g).reshape(n * t, e)
        g = self.linear1.backward(self.activation.backward(self.dropout.backward(
            self.linear2.backward(g))))
        return g.reshape(n, t, e)

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, "
                f"dim_feedforward={self.dim_feedforward}, norm_first={self.norm_first}")
