"""Long short-term memory: a cell state c carried by gates, so gradients survive long spans."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import functional as F
from . import kernels
from .kernels import recurrent_lstm as fast
from .module import Parameter
from .recurrent_base import RNNBase, State
from .registry import register_layer


@register_layer
class LSTM(RNNBase):
    """LSTM, PyTorch's ``nn.LSTM`` with ``batch_first=True``; gates in PyTorch's order i, f, g, o.

    Per layer and step, with a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh split in four (N, H):
        i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
        c_t = f * c_{t-1} + i * g,    h_t = o * tanh(c_t).
    Shapes: x (N, T, input_size) -> (N, T, D * hidden_size); ``weight_ih_l{k}`` (4H, in_k),
    ``weight_hh_l{k}`` (4H, H), biases (4H,). Final states ``h_n``, ``c_n`` (num_layers * D,
    N, H); ``forward(x, (h0, c0))`` starts from given states.

    Backward through time, from the last step down (dh, dc: gradients reaching h_t and c_t):
        dh += g_t;  do = dh * tanh(c_t);  dc += dh * o * (1 - tanh(c_t)^2)
        di = dc * g;  dg = dc * i;  df = dc * c_{t-1};  dc_{t-1} = dc * f
        da = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)];  dh_{t-1} = da W_hh.

    The fast kernel ``kernels/recurrent_lstm.py`` computes the same, batch-last and in place;
    ``with nn.kernels.textbook():`` runs the code below.
    """

    #: What the rows of weight_ih_l0 compute, in order (serve names its weight tiles by them).
    GATE_NAMES = ("input gate", "forget gate", "cell candidate", "output gate")

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"input_size": 3, "hidden_size": 4}, (5, 3))

    #: Fits what tracemalloc measures of a step with the kernel (the memory tests accept 6.3 to
    #: 10.2) and still bounds the textbook code's step (8.2).
    _kept_arrays = 9.0

    _gates = 4
    _states = 2

    def _layer_forward(self, x: np.ndarray, state0: State, w_ih: np.ndarray, w_hh: np.ndarray,
                       b_ih: np.ndarray | None, b_hh: np.ndarray | None
                       ) -> tuple[np.ndarray, State, Any]:
        if kernels.enabled():                             # the same maths, batch-last
            return fast.lstm_forward(x, state0, w_ih, w_hh, b_ih, b_hh)
        n, steps, _ = x.shape
        h = self.hidden_size
        xw = x @ w_ih.T                                   # (N, T, 4H): every step's input term
        if b_ih is not None:
            xw += b_ih + b_hh
        dt = xw.dtype
        hs = np.empty((n, steps + 1, h), dt)              # h_0 .. h_T
        cs = np.empty((n, steps + 1, h), dt)              # c_0 .. c_T
        gates = np.empty((n, steps, 4 * h), dt)           # i, f, g, o after their activations
        tanh_c = np.empty((n, steps, h), dt)
        hs[:, 0], cs[:, 0] = state0
        for t in range(steps):
            a = xw[:, t] + hs[:, t] @ w_hh.T              # (N, 4H)
            gates[:, t, :2 * h] = F.sigmoid(a[:, :2 * h])  # i and f
            gates[:, t, 2 * h:3 * h] = np.tanh(a[:, 2 * h:3 * h])  # g
            gates[:, t, 3 * h:] = F.sigmoid(a[:, 3 * h:])  # o
            i, f = gates[:, t, :h], gates[:, t, h:2 * h]
            g, o = gates[:, t, 2 * h:3 * h], gates[:, t, 3 * h:]
            cs[:, t + 1] = f * cs[:, t] + i * g
            tanh_c[:, t] = np.tanh(cs[:, t + 1])
            hs[:, t + 1] = o * tanh_c[:, t]
        return hs[:, 1:], (hs[:, -1], cs[:, -1]), (x, hs, cs, gates, tanh_c)

    def _layer_backward(self, g_out: np.ndarray, g_final: tuple, cache: Any, w_ih: Parameter,
                        w_hh: Parameter, b_ih: Any, b_hh: Any, need_input_grad: bool = True
                        ) -> tuple[np.ndarray | None, State]:
        if isinstance(cache, fast.LSTMCache):             # made by the kernel's forward
            return fast.lstm_backward(g_out, g_final, cache, w_ih, w_hh, b_ih, b_hh,
                                      need_input_grad)
        x, hs, cs, gates, tanh_c = cache
        steps, h = x.shape[1], self.hidden_size
        da = np.empty(gates.shape, dtype=np.result_type(g_out, gates))  # (N, T, 4H)
        dh = np.zeros_like(hs[:, 0]) if g_final[0] is None else g_final[0]
        dc = np.zeros_like(cs[:, 0]) if g_final[1] is None else g_final[1]
        for t in reversed(range(steps)):
            i, f = gates[:, t, :h], gates[:, t, h:2 * h]
            g, o = gates[:, t, 2 * h:3 * h], gates[:, t, 3 * h:]
            tc = tanh_c[:, t]
            dh = dh + g_out[:, t]                         # from the output and from step t+1
            do = dh * tc
            dc = dc + dh * o * (1 - tc * tc)              # h_t = o tanh(c_t)
            di, dg, df = dc * g, dc * i, dc * cs[:, t]    # c_t = f c_{t-1} + i g
            da[:, t, :h] = di * i * (1 - i)               # through the sigmoids and the tanh
            da[:, t, h:2 * h] = df * f * (1 - f)
            da[:, t, 2 * h:3 * h] = dg * (1 - g * g)
            da[:, t, 3 * h:] = do * o * (1 - o)
            dc = dc * f                                   # on to c_{t-1}
            dh = da[:, t] @ w_hh.data                     # on to h_{t-1}
        self._weight_grads(da, da, x, hs[:, :-1], w_ih, w_hh, b_ih, b_hh)
        return (da @ w_ih.data if need_input_grad else None), (dh, dc)
