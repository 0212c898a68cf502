"""Shapes through a described architecture, found without building or computing anything.

``infer_input_shape`` reads the input a model takes from its first layers that care;
``output_shape`` follows one sample's shape (without the batch) layer by layer, refusing a layer
that does not fit its input or would make more than ``MAX_ACTIVATION`` values per sample (a
description is untrusted: a chain of padded convolutions could otherwise ask for terabytes).
"""
from __future__ import annotations

import math
from typing import Any

from .architecture import ArchitectureError, leaves, position

MAX_ACTIVATION = 1 << 22     # values one sample may produce at any layer (4M)
SEQUENCE_LAYERS = ("RNN", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer",
                   "LayerNorm", "Embedding", "PatchEmbedding", "SelectStep", "MeanOverTime")


def infer_input_shape(desc: dict[str, Any], image_size: tuple[int, int]) -> tuple[int, ...] | None:
    """The per-sample input a validated description takes, read from its first layers that
    care: Linear -> (in_features,), Conv2d -> (in_channels, H, W), BatchNorm1d -> (C,),
    BatchNorm2d -> (C, H, W), Flatten or pooling -> (1, H, W), PatchEmbedding -> (C, S, S),
    a recurrent or attention layer -> (H, features) (the image's rows as a sequence).
    None if no layer says (or an Embedding, whose input is integer ids)."""
    for _, d in leaves(desc):
        t, a = d["type"], d["args"]
        if t == "Linear":
            return (a["in_features"],)
        if t == "BatchNorm1d":
            return (a["num_features"],)
        if t in ("Conv2d", "BatchNorm2d"):
            return (a.get("in_channels", a.get("num_features")), *image_size)
        if t in ("Flatten", "MaxPool2d", "AvgPool2d"):
            return (1, *image_size)
        if t == "PatchEmbedding":
            return (a["in_channels"], a["image_size"], a["image_size"])
        if t in SEQUENCE_IN:           # a sequence of image rows: (H, features)
            return (image_size[0], a[SEQUENCE_IN[t]])
        if t == "Embedding":
            return None
    return None


#: Layers that take a sequence (N, T, F), and the argument that names F.
SEQUENCE_IN = {"RNN": "input_size", "LSTM": "input_size", "GRU": "input_size",
               "MultiheadAttention": "embed_dim", "TransformerEncoderLayer": "d_model"}


def _sequence_shape(t: str, a: dict[str, Any], shape: tuple[int, ...]
                    ) -> tuple[str | None, tuple[int, ...]]:
    """(what the layer expects if ``shape`` does not fit, else None; its output shape) for the
    layers of sequences and tokens."""
    if t in SEQUENCE_IN:
        f = a[SEQUENCE_IN[t]]
        if len(shape) != 2 or shape[1] != f:
            return f"(N, T, {f})", shape
        if t in ("RNN", "LSTM", "GRU"):
            return None, (shape[0], (1 + a["bidirectional"]) * a["hidden_size"])
        return None, shape
    if t == "LayerNorm":
        ns = tuple(a["normalized_shape"])
        ok = shape[len(shape) - len(ns):] == ns and len(shape) >= len(ns)
        return (None if ok else f"(N, *, {', '.join(map(str, ns))})"), shape
    if t == "Embedding":
        return None, (*shape, a["embedding_dim"])
    if t == "PatchEmbedding":
        c, s = a["in_channels"], a["image_size"]
        if shape != (c, s, s):
            return f"(N, {c}, {s}, {s})", shape
        return None, (1 + (s // a["patch_size"]) ** 2, a["embed_dim"])
    # SelectStep, MeanOverTime
    if len(shape) != 2:
        return "(N, T, F)", shape
    if t == "SelectStep" and not -shape[0] <= a["index"] < shape[0]:
        return f"(N, T, F) with T > {a['index'] if a['index'] >= 0 else -a['index'] - 1}", shape
    return None, (shape[1],)


def output_shape(desc: dict[str, Any], input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-sample output shape of a validated description for ``input_shape`` (without
    the batch), found without computing anything; ArchitectureError at the first layer that
    does not fit, or that would make more than ``MAX_ACTIVATION`` values per sample."""
    shape = tuple(input_shape)
    for path, d in leaves(desc):
        t, a = d["type"], d["args"]
        got = "(N, " + ", ".join(map(str, shape)) + ")"
        want = None
        if t == "Linear":
            want = None if shape == (a["in_features"],) else f"(N, {a['in_features']})"
            shape = (a["out_features"],)
        elif t.startswith("BatchNorm"):
            c = a["num_features"]
            ok = shape[:1] == (c,) and len(shape) in ((1, 2) if t == "BatchNorm1d" else (3,))
            want = None if ok else (f"(N, {c}) or (N, {c}, L)" if t == "BatchNorm1d"
                                    else f"(N, {c}, H, W)")
        elif t in ("Conv2d", "MaxPool2d", "AvgPool2d"):
            c = a.get("in_channels")
            ok = len(shape) == 3 and c in (None, shape[0])
            want = None if ok else f"(N, {c or 'C'}, H, W)"
            if ok:
                hw = [(size + 2 * p - k) // s + 1 for size, k, s, p in
                      zip(shape[1:], a["kernel_size"], a["stride"], a["padding"])]
                if min(hw) < 1:
                    want = f"(N, {c or 'C'}, H, W) with H, W >= {a['kernel_size']}"
                shape = (a.get("out_channels", shape[0]), *hw)
        elif t in SEQUENCE_LAYERS:
            want, shape = _sequence_shape(t, a, shape)
        elif t in ("Flatten", "Softmax"):
            nd = len(shape) + 1
            dims = [a["dim"]] if t == "Softmax" else [a["start_dim"], a["end_dim"]]
            given = dims
            dims = [x + nd if x < 0 else x for x in dims]
            if not all(0 <= x < nd for x in dims) or dims[0] > dims[-1]:
                want = f"dimensions {' to '.join(map(str, given))}"
            elif t == "Flatten" and dims[0] == 0:
                want = "start_dim >= 1 (the batch dimension stays first)"
            elif t == "Flatten":
                full = (1, *shape)
                merged = math.prod(full[dims[0]:dims[1] + 1])
                shape = (full[:dims[0]] + (merged,) + full[dims[1] + 1:])[1:]
        if want is not None:
            raise ArchitectureError(f"architecture: {position(path)} ({t}) expects input {want}, "
                                    f"gets {got}")
        if math.prod(shape) > MAX_ACTIVATION:
            raise ArchitectureError(f"architecture: {position(path)} ({t}) would output "
                                    f"{math.prod(shape):,} values per sample, more than the "
                                    f"limit of {MAX_ACTIVATION:,}")
    return shape


__all__ = ["MAX_ACTIVATION", "infer_input_shape", "output_shape"]
