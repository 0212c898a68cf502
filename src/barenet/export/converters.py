"""One converter per layer type: a barenet layer in evaluation mode as ONNX operators.

``CONVERTERS`` maps a layer's class (exactly: a subclass may compute something else) to a
function ``convert(layer, g, x, path) -> Value`` that checks the per-sample shape of its input
``x``, adds the layer's nodes and weights to the ``GraphBuilder`` ``g`` and returns its output.
``path`` is the layer's position, as in state_dict keys (``"2.1"``): it names the weights
(``2.1.weight``) and the layer in errors. A new layer needs one function and ``@register``.

    Linear       Gemm(x, W, b, transB=1)
    Conv2d       Conv (kernel_shape, strides, pads)
    MaxPool2d    MaxPool (padding never wins a max); AvgPool2d AveragePool, count_include_pad=1
    BatchNorm    BatchNormalization with the running statistics; without them (track_running_
                 stats=False) the batch statistics, from ReduceMean
    Flatten      Flatten(axis=1), or Reshape([0, ...]) for other dimensions
    ReLU, LeakyReLU, Sigmoid, Tanh, Softmax: Relu, LeakyRelu(alpha), Sigmoid, Tanh, Softmax(axis)
    GELU         Gelu from opset 20; before, x * (1 + Erf(x / sqrt 2)) / 2 or its tanh form
    LayerNorm    LayerNormalization from opset 17; before, ReduceMean over the last dimensions
    Dropout, Identity: nothing (evaluation mode); Sequential: its layers in order

The recurrent layers (RNN, LSTM, GRU) are in ``converters_recurrent.py``; attention, the
transformer encoder layer, PatchEmbedding, SelectStep, MeanOverTime and Embedding in
``converters_sequence.py``. A layer without a converter is refused with an error naming it.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import nn
from ..nn.architecture import position
from ..nn.layer_record import ShapeMismatch
from ..nn.module import Module
from .onnx_graph import ExportError, GraphBuilder, Value, shape_text

Converter = Callable[[Module, GraphBuilder, Value, str], Value]
#: layer class -> its converter
CONVERTERS: dict[type, Converter] = {}


def register(*classes: type) -> Callable[[Converter], Converter]:
    """Decorator: ``fn`` converts layers of exactly these classes."""
    def add(fn: Converter) -> Converter:
        for cls in classes:
            CONVERTERS[cls] = fn
        return fn
    return add


def convert(layer: Module, g: GraphBuilder, x: Value, path: str = "") -> Value:
    """Add ``layer`` (at position ``path``) to ``g`` reading ``x``; returns its output.
    ExportError naming the layer when no converter takes its class, when the layer's own
    record (``infer_shape``, the one shape inference barenet has) refuses ``x``, or when the
    converter's output disagrees with that record."""
    fn = CONVERTERS.get(type(layer))
    if fn is None:
        cls = type(layer)
        base = next((b.__name__ for b in cls.__mro__[1:] if b in CONVERTERS), None)
        what = f"{cls.__name__}, a subclass of {base}" if base else cls.__name__
        known = ", ".join(sorted(c.__name__ for c in CONVERTERS))
        raise ExportError(f"{position(path)} ({what}) cannot be exported to ONNX: no converter "
                          f"for it (exportable layers: {known}; add one with "
                          f"barenet.export.register)")
    if isinstance(layer, nn.Sequential):
        return fn(layer, g, x, path)
    expected = record_shape(layer, x, path)
    y = fn(layer, g, x, path)
    if tuple(y.shape) != expected:
        raise ExportError(f"{position(path)} ({type(layer).__name__}): the converter gives "
                          f"{shape_text(y.shape)}, the layer says {shape_text(expected)}")
    return y


def record_shape(layer: Module, x: Value, path: str) -> tuple[int, ...]:
    """The per-sample output the layer's record gives for ``x``; ExportError in the words of
    ``architecture_shapes`` (what the layer expects, what it gets) when it refuses ``x``."""
    try:
        return tuple(type(layer).infer_shape(layer.get_config(), tuple(x.shape)))
    except ShapeMismatch as exc:
        raise ExportError(f"{position(path)} ({type(layer).__name__}) expects input {exc}, "
                          f"gets {shape_text(x.shape)}") from None


def _name(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _expect(ok: bool, layer: Module, path: str, want: str, x: Value) -> None:
    """ExportError in the words of ``architecture_shapes``: what the layer expects, what it gets."""
    if not ok:
        raise ExportError(f"{position(path)} ({type(layer).__name__}) expects input {want}, "
                          f"gets {shape_text(x.shape)}")


def _axis(dim: int, x: Value, layer: Module, path: str, what: str) -> int:
    """``dim`` of a batch-first tensor as an axis in [0, rank); ExportError if out of range."""
    rank = len(x.shape) + 1
    axis = dim + rank if dim < 0 else dim
    _expect(0 <= axis < rank, layer, path, f"with a dimension {dim} ({what})", x)
    return axis


@register(nn.Sequential)
def sequential(layer: nn.Sequential, g: GraphBuilder, x: Value, path: str) -> Value:
    """Each child in order, named ``path.0``, ``path.1``, ..."""
    for name, child in layer._modules.items():
        x = convert(child, g, x, _name(path, name))
    return x


@register(nn.Linear)
def linear(layer: nn.Linear, g: GraphBuilder, x: Value, path: str) -> Value:
    """(N, in) -> (N, out): Gemm(x, W, b, transB=1) = x W^T + b, W stored (out, in)."""
    inputs = [x.name, g.const(_name(path, "weight"), layer.weight.data)]
    if layer.bias is not None:
        inputs.append(g.const(_name(path, "bias"), layer.bias.data))
    return Value(g.node("Gemm", inputs, path, transB=1), (layer.out_features,))


def _windows(layer: Module, x: Value, path: str) -> tuple[int, int]:
    """(Ho, Wo) of a conv or pooling layer on ``x`` (C, H, W): its record's answer."""
    return record_shape(layer, x, path)[1:]


def _window_attrs(layer: Module) -> dict[str, list[int]]:
    ph, pw = layer.padding
    return {"kernel_shape": list(layer.kernel_size), "strides": list(layer.stride),
            "pads": [ph, pw, ph, pw]}


@register(nn.Conv2d)
def conv2d(layer: nn.Conv2d, g: GraphBuilder, x: Value, path: str) -> Value:
    """(N, C_in, H, W) -> (N, C_out, Ho, Wo): Conv with zero padding, no dilation, 1 group."""
    ho, wo = _windows(layer, x, path)
    inputs = [x.name, g.const(_name(path, "weight"), layer.weight.data)]
    if layer.bias is not None:
        inputs.append(g.const(_name(path, "bias"), layer.bias.data))
    out = g.node("Conv", inputs, path, **_window_attrs(layer))
    return Value(out, (layer.out_channels, ho, wo))


@register(nn.MaxPool2d)
def max_pool2d(layer: nn.MaxPool2d, g: GraphBuilder, x: Value, path: str) -> Value:
    """MaxPool, floor mode; ONNX pads never win a max, as barenet's -inf padding."""
    ho, wo = _windows(layer, x, path)
    return Value(g.node("MaxPool", [x.name], path, **_window_attrs(layer)), (x.shape[0], ho, wo))


@register(nn.AvgPool2d)
def avg_pool2d(layer: nn.AvgPool2d, g: GraphBuilder, x: Value, path: str) -> Value:
    """AveragePool, floor mode, zero padding counted in each mean (count_include_pad=1)."""
    ho, wo = _windows(layer, x, path)
    out = g.node("AveragePool", [x.name], path, count_include_pad=1, **_window_attrs(layer))
    return Value(out, (x.shape[0], ho, wo))


@register(nn.BatchNorm1d, nn.BatchNorm2d)
def batch_norm(layer: Module, g: GraphBuilder, x: Value, path: str) -> Value:
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1), in evaluation mode."""
    c = layer.num_features
    weight = layer.weight.data if layer.affine else np.ones(c, np.float32)
    bias = layer.bias.data if layer.affine else np.zeros(c, np.float32)
    if not layer.track_running_stats:
        return _batch_statistics(layer, g, x, path, weight, bias)
    inputs = [x.name, g.const(_name(path, "weight"), weight), g.const(_name(path, "bias"), bias),
              g.const(_name(path, "running_mean"), layer.running_mean),
              g.const(_name(path, "running_var"), layer.running_var)]
    return Value(g.node("BatchNormalization", inputs, path, epsilon=layer.eps), x.shape)


def _batch_statistics(layer: Module, g: GraphBuilder, x: Value, path: str,
                      weight: np.ndarray, bias: np.ndarray) -> Value:
    """Batch norm that always normalises with the batch's own mean and (biased) variance."""
    axes = [0, *range(2, len(x.shape) + 1)]
    per_channel = (x.shape[0],) + (1,) * (len(x.shape) - 1)   # broadcasts over (N, C, ...)
    xhat = _normalised(g, x, axes, layer.eps, path)
    scaled = g.node("Mul", [xhat, g.const(_name(path, "weight"), weight.reshape(per_channel))],
                    path)
    out = g.node("Add", [scaled, g.const(_name(path, "bias"), bias.reshape(per_channel))], path)
    return Value(out, x.shape)


def _normalised(g: GraphBuilder, x: Value, axes: list[int], eps: float, path: str) -> str:
    """(x - mean) / sqrt(var + eps), mean and biased variance over ``axes`` (batch first),
    computed as barenet does: the centred x times 1 / sqrt(var + eps)."""
    xc = g.node("Sub", [x.name, g.reduce_mean(x.name, axes, f"{path}/mean")], path)
    var = g.reduce_mean(g.node("Mul", [xc, xc], path), axes, f"{path}/var")
    std = g.node("Sqrt", [g.node("Add", [var, g.const(_name(path, "eps"), eps)], path)], path)
    return g.node("Mul", [xc, g.node("Reciprocal", [std], path)], path)


@register(nn.Flatten)
def flatten(layer: nn.Flatten, g: GraphBuilder, x: Value, path: str) -> Value:
    """Merge dimensions start_dim..end_dim: Flatten(axis=1) for (N, rest), else Reshape with
    0 (copy N) first. Merging the batch dimension is refused (N stays dynamic and first)."""
    start = _axis(layer.start_dim, x, layer, path, "start_dim")
    end = _axis(layer.end_dim, x, layer, path, "end_dim")
    full = (0, *x.shape)
    shape = full[1:start] + (math.prod(full[start:end + 1]),) + full[end + 1:]
    if start == 1 and end == len(x.shape):
        return Value(g.node("Flatten", [x.name], path, axis=1), shape)
    target = g.const(_name(path, "shape"), [0, *shape], np.int64)
    return Value(g.node("Reshape", [x.name, target], path), shape)


def _elementwise(op: str) -> Converter:
    def fn(layer: Module, g: GraphBuilder, x: Value, path: str) -> Value:
        return Value(g.node(op, [x.name], path), x.shape)
    fn.__name__ = fn.__qualname__ = op.lower()
    fn.__doc__ = f"Element-wise: the ONNX {op} operator; the shape is unchanged."
    return fn


register(nn.ReLU)(_elementwise("Relu"))
register(nn.Sigmoid)(_elementwise("Sigmoid"))
register(nn.Tanh)(_elementwise("Tanh"))


@register(nn.LeakyReLU)
def leaky_relu(layer: nn.LeakyReLU, g: GraphBuilder, x: Value, path: str) -> Value:
    """LeakyRelu with alpha = negative_slope (a float32 attribute, as barenet computes it)."""
    return Value(g.node("LeakyRelu", [x.name], path, alpha=layer.negative_slope), x.shape)


@register(nn.Softmax)
def softmax(layer: nn.Softmax, g: GraphBuilder, x: Value, path: str) -> Value:
    """Softmax(axis=dim): over that one axis (the opset 13 meaning)."""
    axis = _axis(layer.dim, x, layer, path, "dim")
    return Value(g.node("Softmax", [x.name], path, axis=axis), x.shape)


@register(nn.GELU)
def gelu(layer: nn.GELU, g: GraphBuilder, x: Value, path: str) -> Value:
    """x * Phi(x): the Gelu operator from opset 20, else built from Erf (or Tanh, for
    approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))))."""
    if g.opset >= 20:
        return Value(g.node("Gelu", [x.name], path, approximate=layer.approximate), x.shape)
    half = g.node("Mul", [x.name, g.const(_name(path, "half"), 0.5)], path)
    if layer.approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x.name, x.name], path), x.name], path)
        inner = g.node("Add", [x.name, g.node("Mul", [cube, g.const(_name(path, "k"), 0.044715)],
                                              path)], path)
        u = g.node("Mul", [inner, g.const(_name(path, "c"), math.sqrt(2 / math.pi))], path)
        t = g.node("Tanh", [u], path)
    else:
        t = g.node("Erf", [g.node("Mul", [x.name, g.const(_name(path, "c"), 1 / math.sqrt(2))],
                                  path)], path)
    one_plus = g.node("Add", [t, g.const(_name(path, "one"), 1.0)], path)
    return Value(g.node("Mul", [half, one_plus], path), x.shape)


@register(nn.LayerNorm)
def layer_norm(layer: nn.LayerNorm, g: GraphBuilder, x: Value, path: str) -> Value:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape)
    dimensions of each sample: LayerNormalization from opset 17, else ReduceMean and friends."""
    shape, k = layer.normalized_shape, len(layer.normalized_shape)
    weight = layer.weight.data if layer.weight is not None else np.ones(shape, np.float32)
    bias = layer.bias.data if layer.bias is not None else None
    if g.opset >= 17:
        inputs = [x.name, g.const(_name(path, "weight"), weight)]
        if bias is not None:
            inputs.append(g.const(_name(path, "bias"), bias))
        out = g.node("LayerNormalization", inputs, path, axis=-k, epsilon=layer.eps)
        return Value(out, x.shape)
    axes = list(range(len(x.shape) + 1 - k, len(x.shape) + 1))
    xhat = _normalised(g, x, axes, layer.eps, path)
    out = g.node("Mul", [xhat, g.const(_name(path, "weight"), weight)], path)
    if bias is not None:
        out = g.node("Add", [out, g.const(_name(path, "bias"), bias)], path)
    return Value(out, x.shape)


@register(nn.Dropout, nn.Identity)
def identity(layer: Module, g: GraphBuilder, x: Value, path: str) -> Value:
    """Nothing: Dropout is the identity in evaluation mode, and so is Identity."""
    return x


__all__ = ["CONVERTERS", "Converter", "convert", "register"]
