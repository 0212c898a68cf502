"""Gated recurrent unit: an update gate mixes the old state with a candidate; no cell state."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import functional as F
from . import kernels
from .kernels import recurrent_gru as fast
from .module import Parameter
from .recurrent_base import RNNBase, State
from .registry import register_layer


@register_layer
class GRU(RNNBase):
    """GRU, PyTorch's ``nn.GRU`` with ``batch_first=True``; gates in PyTorch's order r, z, n.

    Per layer and step, with u = x_t W_ih^T + b_ih and v = h_{t-1} W_hh^T + b_hh split in
    three (N, H) each:
        r = sigmoid(u_r + v_r),  z = sigmoid(u_z + v_z),  n = tanh(u_n + r * v_n)
        h_t = (1 - z) * n + z * h_{t-1}.
    The reset gate r multiplies the hidden term v_n *after* its bias (PyTorch's form), so the
    input and hidden gradients of n differ: du_n = dn_pre but dv_n = dn_pre * r.
    Shapes: x (N, T, input_size) -> (N, T, D * hidden_size); ``weight_ih_l{k}`` (3H, in_k),
    ``weight_hh_l{k}`` (3H, H), biases (3H,). Final state ``h_n`` (num_layers * D, N, H).

    Backward through time, from the last step down (dh: the gradient reaching h_t):
        dh += g_t;  dn_pre = dh (1 - z) (1 - n^2);  dz_pre = dh (h_{t-1} - n) z (1 - z)
        dr_pre = dn_pre v_n r (1 - r);  dh_{t-1} = dh z + [dr_pre, dz_pre, dn_pre r] W_hh.

    The fast kernel ``kernels/recurrent_gru.py`` computes the same, batch-last and in place;
    ``with nn.kernels.textbook():`` runs the code below.
    """

    #: What the rows of weight_ih_l0 compute, in order (serve names its weight tiles by them).
    GATE_NAMES = ("reset gate", "update gate", "new state")

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"input_size": 3, "hidden_size": 4}, (5, 3))

    #: Fits what tracemalloc measures of a step with the kernel (the memory tests accept 4.4 to
    #: 7.3) and still bounds the textbook code's step (5.6).
    _kept_arrays = 6.5

    _gates = 3

    def _layer_forward(self, x: np.ndarray, state0: State, w_ih: np.ndarray, w_hh: np.ndarray,
                       b_ih: np.ndarray | None, b_hh: np.ndarray | None
                       ) -> tuple[np.ndarray, State, Any]:
        if kernels.enabled():                             # the same maths, batch-last
            return fast.gru_forward(x, state0[0], w_ih, w_hh, b_ih, b_hh)
        n, steps, _ = x.shape
        h = self.hidden_size
        u = x @ w_ih.T                                    # (N, T, 3H): every step's input term
        if b_ih is not None:
            u += b_ih
        dt = u.dtype
        hs = np.empty((n, steps + 1, h), dt)              # h_0 .. h_T
        gates = np.empty((n, steps, 3 * h), dt)           # r, z, n after their activations
        v_n = np.empty((n, steps, h), dt)                 # the hidden term r multiplies
        hs[:, 0] = state0[0]
        for t in range(steps):
            v = hs[:, t] @ w_hh.T                         # (N, 3H)
            if b_hh is not None:
                v += b_hh
            gates[:, t, :2 * h] = F.sigmoid(u[:, t, :2 * h] + v[:, :2 * h])   # r and z
            r, z = gates[:, t, :h], gates[:, t, h:2 * h]
            v_n[:, t] = v[:, 2 * h:]
            gates[:, t, 2 * h:] = np.tanh(u[:, t, 2 * h:] + r * v_n[:, t])    # n
            hs[:, t + 1] = (1 - z) * gates[:, t, 2 * h:] + z * hs[:, t]
        return hs[:, 1:], (hs[:, -1],), (x, hs, gates, v_n)

    def _layer_backward(self, g_out: np.ndarray, g_final: tuple, cache: Any, w_ih: Parameter,
                        w_hh: Parameter, b_ih: Any, b_hh: Any, need_input_grad: bool = True
                        ) -> tuple[np.ndarray | None, State]:
        if isinstance(cache, fast.GRUCache):              # made by the kernel's forward
            return fast.gru_backward(g_out, g_final, cache, w_ih, w_hh, b_ih, b_hh,
                                     need_input_grad)
        x, hs, gates, v_n = cache
        steps, h = x.shape[1], self.hidden_size
        dt = np.result_type(g_out, gates)
        du = np.empty(gates.shape, dt)                    # (N, T, 3H) dL/du
        dv = np.empty(gates.shape, dt)                    # (N, T, 3H) dL/dv
        dh = np.zeros_like(hs[:, 0]) if g_final[0] is None else g_final[0]
        for t in reversed(range(steps)):
            r, z, n = gates[:, t, :h], gates[:, t, h:2 * h], gates[:, t, 2 * h:]
            dh = dh + g_out[:, t]                         # from the output and from step t+1
            dn_pre = dh * (1 - z) * (1 - n * n)
            dz_pre = dh * (hs[:, t] - n) * z * (1 - z)
            dr_pre = dn_pre * v_n[:, t] * r * (1 - r)
            du[:, t, :h], du[:, t, h:2 * h], du[:, t, 2 * h:] = dr_pre, dz_pre, dn_pre
            dv[:, t, :2 * h] = du[:, t, :2 * h]
            dv[:, t, 2 * h:] = dn_pre * r
            dh = dh * z + dv[:, t] @ w_hh.data            # on to h_{t-1}: directly and via v
        self._weight_grads(du, dv, x, hs[:, :-1], w_ih, w_hh, b_ih, b_hh)
        return (du @ w_ih.data if need_input_grad else None), (dh,)
