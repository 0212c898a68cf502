"""RNN, LSTM and GRU as the ONNX RNN, LSTM and GRU operators, one per stacked layer.

barenet's recurrent layers are batch first, (N, T, features); the ONNX operators read time
first, (T, N, features), and write Y (T, D, N, H), D = 2 when bidirectional. So the input is
transposed once, each stacked layer's Y becomes the next layer's (T, N, D * H) input, and the
last Y is turned back into (N, T, D * H), the forward direction's features first:

    x (N, T, I) -Transpose-> (T, N, I) -op-> Y (T, D, N, H) -Transpose-> (N, T, D, H)
                                                                   -Reshape-> (N, T, D * H)

Weights: ONNX stacks the directions, W (D, G * H, in), R (D, G * H, H), B (D, 2 * G * H) =
[input biases, hidden biases], and orders the gates differently from PyTorch:

    LSTM   PyTorch i, f, g, o   ->   ONNX i, o, f, c
    GRU    PyTorch r, z, n      ->   ONNX z, r, h   (linear_before_reset=1: r multiplies
                                                      h W_hn^T + b_hn, as PyTorch does)
    RNN    one block; activations Tanh or Relu, one per direction

The initial states are zeros (a Sequential never passes any), and dropout between layers is
the identity in evaluation mode.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..nn.recurrent_base import RNNBase
from .converters import _name, register
from .onnx_graph import GraphBuilder, Value

#: per layer class: the ONNX operator and PyTorch's gate blocks in ONNX's order
_GATES = {nn.RNN: ("RNN", [0]), nn.LSTM: ("LSTM", [0, 3, 1, 2]), nn.GRU: ("GRU", [1, 0, 2])}


def _reorder(w: np.ndarray, order: list[int], hidden: int) -> np.ndarray:
    """The gate blocks of ``w`` (G * H, ...) or (G * H,) in ``order``."""
    return np.concatenate([w[i * hidden:(i + 1) * hidden] for i in order])


def _weights(layer: RNNBase, k: int, order: list[int]) -> tuple[np.ndarray, ...]:
    """Layer ``k``'s (W, R, B) in ONNX's layout, B None when the layer has no biases."""
    h, ws, rs, bs = layer.hidden_size, [], [], []
    for d in range(layer.directions):
        w_ih, w_hh, b_ih, b_hh = layer._params(k, d)
        ws.append(_reorder(w_ih.data, order, h))
        rs.append(_reorder(w_hh.data, order, h))
        if b_ih is not None:
            bs.append(np.concatenate([_reorder(b_ih.data, order, h),
                                      _reorder(b_hh.data, order, h)]))
    return np.stack(ws), np.stack(rs), (np.stack(bs) if bs else None)


@register(nn.RNN, nn.LSTM, nn.GRU)
def recurrent(layer: RNNBase, g: GraphBuilder, x: Value, path: str) -> Value:
    """(N, T, input_size) -> (N, T, D * hidden_size): one ONNX RNN / LSTM / GRU node per
    stacked layer, between two Transposes (time first inside)."""
    op, order = _GATES[type(layer)]
    steps, h, d = x.shape[0], layer.hidden_size, layer.directions
    attrs = {"hidden_size": h, "direction": "bidirectional" if d == 2 else "forward"}
    if op == "RNN":
        attrs["activations"] = ["Relu" if layer.nonlinearity == "relu" else "Tanh"] * d
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    seq = g.node("Transpose", [x.name], path, perm=[1, 0, 2])            # (T, N, I)
    features = _name(path, "features")
    for k in range(layer.num_layers):
        where = _name(path, f"l{k}")
        w, r, b = _weights(layer, k, order)
        inputs = [seq, g.const(f"{where}.W", w), g.const(f"{where}.R", r)]
        if b is not None:
            inputs.append(g.const(f"{where}.B", b))
        y = g.node(op, inputs, where, **attrs)                           # (T, D, N, H)
        if k < layer.num_layers - 1:                                     # -> (T, N, D * H)
            y = g.node("Transpose", [y], where, perm=[0, 2, 1, 3])
            seq = g.node("Reshape", [y, g.const(features, [0, 0, d * h], np.int64)], where)
    out = g.node("Transpose", [y], path, perm=[2, 0, 1, 3])              # (N, T, D, H)
    out = g.node("Reshape", [out, g.const(features, [0, 0, d * h], np.int64)], path)
    return Value(out, (steps, d * h))


__all__ = ["recurrent"]
