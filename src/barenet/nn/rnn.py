"""The plain (Elman) recurrent layer: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import init, kernels
from .kernels import recurrent as fast
from .layer_args import Arg
from .module import Parameter
from .recurrent_base import RNNBase, State
from .registry import register_layer


@register_layer
class RNN(RNNBase):
    """Elman RNN, PyTorch's ``nn.RNN`` with ``batch_first=True``.

    Per layer and step: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or ReLU.
    Shapes: x (N, T, input_size) -> (N, T, D * hidden_size); ``weight_ih_l{k}`` (H, in_k),
    ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,) (``_reverse`` ones for the
    second direction). Final state ``h_n`` (num_layers * D, N, H); ``forward(x, h0)`` starts
    from a given state.

    Backward through time, from the last step down, with dh the gradient reaching h_t:
        da_t = (dh + g_t) * act'(a_t);   dh_{t-1} = da_t W_hh
    and dW_ih = sum_t da_t^T x_t, dW_hh = sum_t da_t^T h_{t-1}, dx_t = da_t W_ih.

    The fast kernel ``kernels/recurrent.py`` computes the same, batch-last and in place;
    ``with nn.kernels.textbook():`` runs the code below.
    """

    #: What the rows of weight_ih_l0 compute, in order (serve names its weight tiles by them).
    GATE_NAMES = ("hidden state",)

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"input_size": 3, "hidden_size": 4}, (5, 3))

    ARGS = {**RNNBase.ARGS, "nonlinearity": Arg("nonlinearity", "tanh")}

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, rng: init.RNGLike = None,
                 dtype: np.dtype = np.float32) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng, dtype)
        self.nonlinearity = nonlinearity

    def _layer_forward(self, x: np.ndarray, state0: State, w_ih: np.ndarray, w_hh: np.ndarray,
                       b_ih: np.ndarray | None, b_hh: np.ndarray | None
                       ) -> tuple[np.ndarray, State, Any]:
        if kernels.enabled():                             # the same maths, batch-last
            return fast.rnn_forward(x, state0[0], w_ih, w_hh, b_ih, b_hh,
                                    self.nonlinearity == "relu")
        n, steps, _ = x.shape
        xw = x @ w_ih.T                                   # (N, T, H): every step's input term
        if b_ih is not None:
            xw += b_ih + b_hh
        hs = np.empty((n, steps + 1, self.hidden_size), dtype=xw.dtype)  # h_0 .. h_T
        hs[:, 0] = state0[0]
        for t in range(steps):
            a = xw[:, t] + hs[:, t] @ w_hh.T              # (N, H) pre-activation
            hs[:, t + 1] = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0)
        return hs[:, 1:], (hs[:, -1],), (x, hs)

    def _layer_backward(self, g: np.ndarray, g_final: tuple, cache: Any, w_ih: Parameter,
                        w_hh: Parameter, b_ih: Any, b_hh: Any, need_input_grad: bool = True
                        ) -> tuple[np.ndarray | None, State]:
        if isinstance(cache, fast.RNNCache):              # made by the kernel's forward
            return fast.rnn_backward(g, g_final, cache, w_ih, w_hh, b_ih, b_hh,
                                     need_input_grad)
        x, hs = cache
        n, steps, _ = x.shape
        da = np.empty(g.shape, dtype=np.result_type(g, hs))  # (N, T, H) dL/d(pre-activation)
        dh = np.zeros_like(hs[:, 0]) if g_final[0] is None else g_final[0]
        for t in reversed(range(steps)):
            dh = dh + g[:, t]                             # from the output and from step t+1
            h = hs[:, t + 1]
            da[:, t] = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0)
            dh = da[:, t] @ w_hh.data                     # (N, H) on to h_{t-1}
        self._weight_grads(da, da, x, hs[:, :-1], w_ih, w_hh, b_ih, b_hh)
        return (da @ w_ih.data if need_input_grad else None), (dh,)

    def extra_repr(self) -> str:
        extra = "" if self.nonlinearity == "tanh" else ", nonlinearity='relu'"
        return super().extra_repr() + extra
