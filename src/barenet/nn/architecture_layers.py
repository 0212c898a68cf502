"""The table behind ``architecture.py``: every built-in layer's constructor arguments, how each
argument's value is checked, how it is read back from a built layer, and how many parameters
and buffer values a layer's arguments ask for (counted before anything is allocated).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .attention import MultiheadAttention
from .conv import Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU
from .layernorm import LayerNorm
from .linear import Linear
from .lstm import LSTM
from .module import Module
from .norm import BatchNorm1d, BatchNorm2d
from .patch import PatchEmbedding
from .pooling import AvgPool2d, MaxPool2d
from .rnn import RNN
from .sequence import MeanOverTime, SelectStep
from .shape import Flatten, Identity
from .transformer import TransformerEncoderLayer

MAX_SIZE = 1 << 24           # any width, channel or feature count
MAX_KERNEL = 64              # kernel, stride and padding of convolutions and pooling
MAX_DIM = 8                  # |dim| of Flatten and Softmax; dimensions of a LayerNorm
MAX_STACK = 64               # num_layers of a recurrent layer
REQUIRED = object()
#: The allowed values of the arguments that name a choice.
CHOICES = {"nonlinearity": ("tanh", "relu"), "approximate": ("none", "tanh"),
           "activation": ("relu", "gelu")}


@dataclass(frozen=True)
class Arg:
    """One constructor argument: its ``kind`` (how it is checked) and its default."""

    kind: str
    default: Any = REQUIRED


_POOL = {"kernel_size": Arg("kernel"), "stride": Arg("kernel", None), "padding": Arg("pad", 0)}
_NORM = {"num_features": Arg("size"), "eps": Arg("eps", 1e-5), "momentum": Arg("momentum", 0.1),
         "affine": Arg("bool", True), "track_running_stats": Arg("bool", True)}
_RECURRENT = {"input_size": Arg("size"), "hidden_size": Arg("size"),
              "num_layers": Arg("stack", 1), "bias": Arg("bool", True),
              "batch_first": Arg("bool", True), "dropout": Arg("prob", 0.0),
              "bidirectional": Arg("bool", False)}
#: Every built-in layer: type name -> (class, constructor arguments). Sequential is the container.
LAYERS: dict[str, tuple[type, dict[str, Arg]]] = {
    "Linear": (Linear, {"in_features": Arg("size"), "out_features": Arg("size"),
                        "bias": Arg("bool", True)}),
    "Conv2d": (Conv2d, {"in_channels": Arg("size"), "out_channels": Arg("size"),
                        "kernel_size": Arg("kernel"), "stride": Arg("kernel", 1),
                        "padding": Arg("pad", 0), "bias": Arg("bool", True)}),
    "MaxPool2d": (MaxPool2d, _POOL), "AvgPool2d": (AvgPool2d, _POOL),
    "BatchNorm1d": (BatchNorm1d, _NORM), "BatchNorm2d": (BatchNorm2d, _NORM),
    "Dropout": (Dropout, {"p": Arg("prob", 0.5)}),
    "LeakyReLU": (LeakyReLU, {"negative_slope": Arg("float", 0.01)}),
    "Softmax": (Softmax, {"dim": Arg("dim", -1)}),
    "Flatten": (Flatten, {"start_dim": Arg("dim", 1), "end_dim": Arg("dim", -1)}),
    "ReLU": (ReLU, {}), "Sigmoid": (Sigmoid, {}), "Tanh": (Tanh, {}), "Identity": (Identity, {}),
    "GELU": (GELU, {"approximate": Arg("approximate", "none")}),
    "LayerNorm": (LayerNorm, {"normalized_shape": Arg("sizes"), "eps": Arg("eps", 1e-5),
                              "elementwise_affine": Arg("bool", True), "bias": Arg("bool", True)}),
    "Embedding": (Embedding, {"num_embeddings": Arg("size"), "embedding_dim": Arg("size")}),
    "RNN": (RNN, {**_RECURRENT, "nonlinearity": Arg("nonlinearity", "tanh")}),
    "LSTM": (LSTM, _RECURRENT), "GRU": (GRU, _RECURRENT),
    "MultiheadAttention": (MultiheadAttention, {
        "embed_dim": Arg("size"), "num_heads": Arg("size"), "dropout": Arg("prob", 0.0),
        "bias": Arg("bool", True), "batch_first": Arg("bool", True)}),
    "TransformerEncoderLayer": (TransformerEncoderLayer, {
        "d_model": Arg("size"), "nhead": Arg("size"), "dim_feedforward": Arg("size", 2048),
        "dropout": Arg("prob", 0.1), "activation": Arg("activation", "relu"),
        "layer_norm_eps": Arg("eps", 1e-5), "batch_first": Arg("bool", True),
        "norm_first": Arg("bool", False), "bias": Arg("bool", True)}),
    "PatchEmbedding": (PatchEmbedding, {
        "image_size": Arg("size", 28), "patch_size": Arg("size", 7),
        "in_channels": Arg("size", 1), "embed_dim": Arg("size", 64)}),
    "SelectStep": (SelectStep, {"index": Arg("index", -1)}),
    "MeanOverTime": (MeanOverTime, {}),
}
#: Layers whose constructor takes ``rng`` for its initial weights (Dropout gets its own).
SEEDED = (Linear, Conv2d, Embedding, RNN, LSTM, GRU, MultiheadAttention,
          TransformerEncoderLayer, PatchEmbedding)


def _has_bias(m: Module) -> bool:
    return m.bias is not None


#: How to read an argument back from a built layer where it is not the attribute of its name.
READERS: dict[tuple[str, str], Callable[[Any], Any]] = {
    **{(t, "bias"): _has_bias for t in ("Linear", "Conv2d", "LayerNorm")},
    ("MultiheadAttention", "bias"): lambda m: m.in_proj_bias is not None,
    ("TransformerEncoderLayer", "bias"): lambda m: m.linear1.bias is not None,
    ("TransformerEncoderLayer", "dropout"): lambda m: m.dropout.p,
    ("TransformerEncoderLayer", "activation"):
        lambda m: "gelu" if isinstance(m.activation, GELU) else "relu",
}


def read_arg(module: Module, kind: str, name: str) -> Any:
    """The value of constructor argument ``name`` that built ``module`` (of type ``kind``)."""
    reader = READERS.get((kind, name))
    return reader(module) if reader else getattr(module, name)


def _int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _number(v: Any) -> bool:
    return _int(v) or (isinstance(v, (float, np.floating)) and math.isfinite(v))


def check(kind: str, v: Any) -> Any:
    """``v`` in canonical JSON form if it is a valid value of ``kind``, else ValueError."""
    if kind in ("kernel", "pad"):
        low = 1 if kind == "kernel" else 0
        pair = list(v) if isinstance(v, (list, tuple)) and len(v) == 2 else [v, v]
        if all(_int(x) and low <= x <= MAX_KERNEL for x in pair):
            return [int(x) for x in pair]
        raise ValueError(f"must be an int in [{low}, {MAX_KERNEL}] or a pair of them")
    if kind == "sizes":
        sizes = list(v) if isinstance(v, (list, tuple)) else [v]
        if 1 <= len(sizes) <= MAX_DIM and all(_int(x) and 1 <= x <= MAX_SIZE for x in sizes):
            return [int(x) for x in sizes]
        raise ValueError(f"must be an int in [1, {MAX_SIZE}] or a list of 1 to {MAX_DIM} of them")
    if kind in CHOICES:
        if isinstance(v, str) and v in CHOICES[kind]:
            return v
        raise ValueError("must be one of " + ", ".join(map(repr, CHOICES[kind])))
    if kind == "size" and _int(v) and 1 <= v <= MAX_SIZE:
        return int(v)
    if kind == "stack" and _int(v) and 1 <= v <= MAX_STACK:
        return int(v)
    if kind == "index" and _int(v) and -MAX_SIZE <= v <= MAX_SIZE:
        return int(v)
    if kind == "dim" and _int(v) and -MAX_DIM <= v <= MAX_DIM:
        return int(v)
    if kind == "bool" and isinstance(v, (bool, np.bool_)):
        return bool(v)
    if kind == "float" and _number(v) and abs(v) <= 1e6:
        return float(v)
    if kind == "eps" and _number(v) and 0 < v <= 1:
        return float(v)
    if kind in ("prob", "momentum") and _number(v) and 0 <= v <= 1:
        return float(v)
    if kind == "momentum" and v is None:
        return None
    raise ValueError({"size": f"must be an int in [1, {MAX_SIZE}]", "bool": "must be true or false",
                      "stack": f"must be an int in [1, {MAX_STACK}]",
                      "index": f"must be an int in [-{MAX_SIZE}, {MAX_SIZE}]",
                      "dim": f"must be an int in [-{MAX_DIM}, {MAX_DIM}]",
                      "float": "must be a finite number", "eps": "must be a number in (0, 1]",
                      "prob": "must be a number in [0, 1]",
                      "momentum": "must be a number in [0, 1] or null"}[kind])


def divisibility_problem(kind: str, a: dict[str, Any]) -> str | None:
    """What is wrong with a checked layer's arguments taken together, or None."""
    if kind in ("MultiheadAttention", "TransformerEncoderLayer"):
        e, h = (a["embed_dim"], a["num_heads"]) if "embed_dim" in a else (a["d_model"], a["nhead"])
        if e % h:
            return f"{e} features cannot be split into {h} heads (not a multiple)"
    if kind == "PatchEmbedding" and a["image_size"] % a["patch_size"]:
        return f"image_size {a['image_size']} is not a multiple of patch_size {a['patch_size']}"
    return None


def _recurrent_numbers(a: dict[str, Any], gates: int) -> int:
    d, h = 1 + a["bidirectional"], a["hidden_size"]
    total = 0
    for k in range(a["num_layers"]):
        fan_in = a["input_size"] if k == 0 else d * h
        total += d * gates * h * (fan_in + h + 2 * a["bias"])
    return total


def _attention_numbers(e: int, bias: bool) -> int:
    return 4 * e * e + 4 * e * bias            # in_proj (3E, E) and out_proj (E, E), biases


def layer_numbers(kind: str, a: dict[str, Any]) -> tuple[int, int]:
    """(parameters, buffer values) of one checked, non-container layer."""
    if kind == "Linear":
        return a["out_features"] * (a["in_features"] + a["bias"]), 0
    if kind == "Conv2d":
        k = a["kernel_size"][0] * a["kernel_size"][1]
        return a["out_channels"] * (a["in_channels"] * k + a["bias"]), 0
    if kind.startswith("BatchNorm"):
        return (2 * a["num_features"] * a["affine"],
                (2 * a["num_features"] + 1) * a["track_running_stats"])
    if kind == "LayerNorm":
        affine = a["elementwise_affine"]
        return math.prod(a["normalized_shape"]) * (affine + (affine and a["bias"])), 0
    if kind == "Embedding":
        return a["num_embeddings"] * a["embedding_dim"], 0
    if kind in ("RNN", "LSTM", "GRU"):
        return _recurrent_numbers(a, {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]), 0
    if kind == "MultiheadAttention":
        return _attention_numbers(a["embed_dim"], a["bias"]), 0
    if kind == "TransformerEncoderLayer":
        e, f, b = a["d_model"], a["dim_feedforward"], a["bias"]
        return _attention_numbers(e, b) + 2 * e * f + (f + e) * b + 2 * e * (1 + b), 0
    if kind == "PatchEmbedding":
        e, p = a["embed_dim"], a["patch_size"]
        patches = (a["image_size"] // p) ** 2
        return e * (a["in_channels"] * p * p + 1) + e + (1 + patches) * e, 0
    return 0, 0
