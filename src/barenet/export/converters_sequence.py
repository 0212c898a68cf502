"""The sequence layers as ONNX operators: attention, the transformer encoder layer, patch
embedding, the step selectors and the embedding table.

    MultiheadAttention       Gemm for the projections (on the (N*T, E) rows), Reshape and
                             Transpose into heads, MatMul, Mul by 1/sqrt(d), Softmax, MatMul
    TransformerEncoderLayer  LayerNorm, attention, Add (the residual), Gemm-activation-Gemm;
                             pre-norm or post-norm as the layer's norm_first says
    PatchEmbedding           Conv with kernel = stride = patch, Reshape + Transpose into tokens,
                             Concat after the class token (Expand to N), Add the positions
    SelectStep               Gather on axis 1;  MeanOverTime: ReduceMean over axis 1
    Embedding                Gather of the table's rows by the int64 ids of the graph's input

A Sequential calls a layer with its input only, so no mask reaches an exported attention
layer: the graph is the unmasked self-attention, in evaluation mode (no dropout).
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..nn.architecture import position
from .converters import _name, convert, register
from .onnx_graph import ExportError, GraphBuilder, Value, shape_text


def _rows(g: GraphBuilder, x: Value, path: str) -> Value:
    """(N, T, F) -> (N * T, F): the rows a Linear (Gemm) takes."""
    target = g.const(_name(path, "rows"), [-1, x.shape[-1]], np.int64)
    return Value(g.node("Reshape", [x.name, target], path), x.shape[-1:])


def _unrows(g: GraphBuilder, rows: Value, steps: int, path: str) -> Value:
    """(N * T, F) -> (N, T, F), the inverse of ``_rows``."""
    target = g.const(_name(path, "steps"), [-1, steps, rows.shape[-1]], np.int64)
    return Value(g.node("Reshape", [rows.name, target], path), (steps, rows.shape[-1]))


@register(nn.MultiheadAttention)
def multihead_attention(layer: nn.MultiheadAttention, g: GraphBuilder, x: Value,
                        path: str) -> Value:
    """(N, T, E) -> (N, T, E): softmax(Q K^T / sqrt(d)) V per head, then out_proj."""
    e, h, d = layer.embed_dim, layer.num_heads, layer.head_dim
    steps = x.shape[0]
    inputs = [_rows(g, x, path).name, g.const(_name(path, "in_proj_weight"),
                                              layer.in_proj_weight.data)]
    if layer.in_proj_bias is not None:
        inputs.append(g.const(_name(path, "in_proj_bias"), layer.in_proj_bias.data))
    qkv = g.node("Gemm", inputs, path, transB=1)                         # (N*T, 3E)
    heads = g.const(_name(path, "heads"), [-1, steps, 3, h, d], np.int64)
    qkv = g.node("Reshape", [qkv, heads], path)                          # (N, T, 3, h, d)
    qkv = g.node("Transpose", [qkv], path, perm=[2, 0, 3, 1, 4])         # (3, N, h, T, d)
    q, k, v = (g.node("Gather", [qkv, g.const(_name(path, which), i, np.int64)], path, axis=0)
               for i, which in enumerate("qkv"))                        # each (N, h, T, d)
    kt = g.node("Transpose", [k], path, perm=[0, 1, 3, 2])               # (N, h, d, T)
    scores = g.node("Mul", [g.node("MatMul", [q, kt], path),
                            g.const(_name(path, "scale"), 1.0 / math.sqrt(d))], path)
    p = g.node("Softmax", [scores], path, axis=-1)                       # (N, h, T, T)
    o = g.node("Transpose", [g.node("MatMul", [p, v], path)], path, perm=[0, 2, 1, 3])
    o = Value(o, (steps, h, d))                                          # (N, T, h, d)
    rows = Value(g.node("Reshape", [o.name, g.const(_name(path, "merge"), [-1, e], np.int64)],
                        path), (e,))                                     # (N*T, E)
    out = convert(layer.out_proj, g, rows, _name(path, "out_proj"))
    return _unrows(g, out, steps, path)


def _add(g: GraphBuilder, a: Value, b: Value, path: str) -> Value:
    return Value(g.node("Add", [a.name, b.name], path), a.shape)


@register(nn.TransformerEncoderLayer)
def encoder_layer(layer: nn.TransformerEncoderLayer, g: GraphBuilder, x: Value,
                  path: str) -> Value:
    """(N, T, d_model) -> (N, T, d_model). Pre-norm: x + attn(norm1 x), then + ff(norm2 x);
    post-norm: norm1(x + attn x), then norm2(x + ff x); ff = linear2(act(linear1 x))."""

    def sub(name: str, v: Value) -> Value:
        return convert(getattr(layer, name), g, v, _name(path, name))

    def attention(v: Value) -> Value:
        return sub("self_attn", v)

    def feedforward(v: Value) -> Value:
        hidden = sub("activation", sub("linear1", _rows(g, v, path)))   # (N*T, ff)
        return _unrows(g, sub("linear2", hidden), v.shape[0], path)

    if layer.norm_first:
        x = _add(g, x, attention(sub("norm1", x)), path)
        return _add(g, x, feedforward(sub("norm2", x)), path)
    x = sub("norm1", _add(g, x, attention(x), path))
    return sub("norm2", _add(g, x, feedforward(x), path))


@register(nn.PatchEmbedding)
def patch_embedding(layer: nn.PatchEmbedding, g: GraphBuilder, x: Value, path: str) -> Value:
    """(N, C, H, W) -> (N, 1 + P, E): Conv (kernel = stride = patch) gives each patch's E
    features; the class token (Expand to N) goes first, then the positions are added."""
    p, e = layer.patch_size, layer.embed_dim
    patches = layer.num_patches
    conv = g.node("Conv", [x.name, g.const(_name(path, "weight"), layer.weight.data),
                           g.const(_name(path, "bias"), layer.bias.data)], path,
                  kernel_shape=[p, p], strides=[p, p])                   # (N, E, g, g)
    flat = g.node("Reshape", [conv, g.const(_name(path, "grid"), [0, e, patches], np.int64)],
                  path)                                                  # (N, E, P)
    tokens = g.node("Transpose", [flat], path, perm=[0, 2, 1])           # (N, P, E)
    batch = g.node("Gather", [g.node("Shape", [x.name], path),
                              g.const(_name(path, "batch"), [0], np.int64)], path, axis=0)
    shape = g.node("Concat", [batch, g.const(_name(path, "token"), [1, e], np.int64)], path,
                   axis=0)                                               # [N, 1, E]
    cls = g.node("Expand", [g.const(_name(path, "class_token"), layer.class_token.data),
                            shape], path)                                # (N, 1, E)
    z = g.node("Concat", [cls, tokens], path, axis=1)                    # (N, 1 + P, E)
    out = g.node("Add", [z, g.const(_name(path, "pos_embedding"), layer.pos_embedding.data)],
                 path)
    return Value(out, (1 + patches, e))


@register(nn.SelectStep)
def select_step(layer: nn.SelectStep, g: GraphBuilder, x: Value, path: str) -> Value:
    """(N, T, F) -> (N, F): Gather of step ``index`` (counted from the end when negative)."""
    steps = x.shape[0]
    index = g.const(_name(path, "index"), layer.index % steps, np.int64)   # a scalar
    return Value(g.node("Gather", [x.name, index], path, axis=1), x.shape[1:])


@register(nn.MeanOverTime)
def mean_over_time(layer: nn.MeanOverTime, g: GraphBuilder, x: Value, path: str) -> Value:
    """(N, T, F) -> (N, F): ReduceMean over axis 1, without keeping it."""
    return Value(g.reduce_mean(x.name, [1], path, keepdims=False), x.shape[1:])


@register(nn.Embedding)
def embedding(layer: nn.Embedding, g: GraphBuilder, x: Value, path: str) -> Value:
    """int64 ids (N, *) -> (N, *, embedding_dim): Gather of the table's rows. Only the
    model's first layer reads integers; anywhere else the input is float and is refused."""
    if x.dtype != "int64":
        raise ExportError(f"{position(path)} (Embedding) expects integer ids as input, gets "
                          f"{x.dtype} {shape_text(x.shape)}; an Embedding can only be the "
                          f"model's first layer")
    out = g.node("Gather", [g.const(_name(path, "weight"), layer.weight.data), x.name], path,
                 axis=0)
    return Value(out, (*x.shape, layer.embedding_dim))


__all__ = ["embedding", "encoder_layer", "mean_over_time", "multihead_attention",
           "patch_embedding", "select_step"]
