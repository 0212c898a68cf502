"""LSTM's fast kernel: ``nn/lstm.py``'s maths, batch-last, each step's work done in place.

Beyond what ``recurrent.py`` describes (batch-last arrays, one product per step with the
input terms folded in, no per-step temporaries, one product for all weight gradients), one
thing is LSTM's own: **the gates are reordered i, f, o, g** inside the kernel (the rows of
the step matrix; the weight gradients' rows go back to PyTorch's i, f, g, o), so the three
sigmoid gates are one contiguous (3H, N) block: one in-place sigmoid and one tanh per step
instead of a sigmoid on two blocks. The gates' (T, 4H, N) array, which holds each step's
pre-activation and then its activations, is all the forward keeps of them. Backward, the
sigmoids' slopes s (1 - s) are one (3H, N) block too, and each gate's gradient is written
once, into its rows of the (4H, T, N) array the weight gradients are made from. Timings:
``recurrent.py``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..parameter import Parameter
from .recurrent import (
    add_step_weight_grads,
    add_transposed,
    batch_first,
    initial,
    input_grad,
    sigmoid_,
    step_inputs,
    step_weight_grads,
    step_weights,
)


def ifog(h: int) -> np.ndarray:
    """The rows i, f, o, g of PyTorch's i, f, g, o (4H of them): ``w[ifog(h)]`` reorders, and
    since it only swaps the last two blocks, ``dw[ifog(h)]`` orders back."""
    return np.r_[0:2 * h, 3 * h:4 * h, 2 * h:3 * h]


class LSTMCache(NamedTuple):
    hx: np.ndarray            # (H + I [+ 1], T + 1, N): step_inputs, h_1 .. h_T filled in
    cs: np.ndarray            # (T + 1, H, N): c_0 .. c_T
    gates: np.ndarray         # (T, 4H, N): i, f, o, g after their activations
    tanh_c: np.ndarray        # (T, H, N): tanh(c_1) .. tanh(c_T)


def lstm_forward(x: np.ndarray, state0: tuple, w_ih: np.ndarray, w_hh: np.ndarray,
                 b_ih: np.ndarray | None, b_hh: np.ndarray | None
                 ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], LSTMCache]:
    """x (N, T, I), state0 (h0, c0) each (N, H) -> (output (N, T, H), (h_T, c_T) each (N, H),
    cache)."""
    n, steps, _ = x.shape
    h = w_hh.shape[1]
    w = step_weights(w_ih, w_hh, b_ih, b_hh)[ifog(h)]    # (4H, H + I [+ 1]), rows i, f, o, g
    dt = np.result_type(x, w)
    hx = step_inputs(x, state0[0], h, b_ih is not None, dt)
    gates = np.empty((steps, 4 * h, n), dt)
    cs = np.empty((steps + 1, h, n), dt)
    tanh_c = np.empty((steps, h, n), dt)
    cs[0] = state0[1].T
    ig = np.empty((h, n), dt)                             # i * g
    for t in range(steps):
        a = gates[t]                                      # (4H, N)
        np.matmul(w, hx[:, t], out=a)                     # W_hh h_{t-1} + W_ih x_t + b
        sigmoid_(a[:3 * h])                               # i, f, o
        np.tanh(a[3 * h:], out=a[3 * h:])                 # g
        i, f, o, g = a[:h], a[h:2 * h], a[2 * h:3 * h], a[3 * h:]
        np.multiply(f, cs[t], out=cs[t + 1])              # c_t = f c_{t-1} + i g
        np.multiply(i, g, out=ig)
        cs[t + 1] += ig
        np.tanh(cs[t + 1], out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hx[:h, t + 1])      # h_t = o tanh(c_t)
    hs = hx[:h, 1:]                                       # (H, T, N)
    return batch_first(hs), (hs[:, -1].T, cs[-1].T), LSTMCache(hx, cs, gates, tanh_c)


def lstm_backward(g_out: np.ndarray, g_final: tuple, cache: LSTMCache, w_ih: Parameter,
                  w_hh: Parameter, b_ih: Any, b_hh: Any, need_input_grad: bool = True
                  ) -> tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray]]:
    """dL/d(output) (N, T, H), (dL/dh_T, dL/dc_T) (each None or (N, H)) -> (dL/dx (N, T, I)
    or None, (dL/dh0, dL/dc0) each (N, H)); accumulates every weight gradient."""
    hx, cs, gates, tanh_c = cache
    steps, h, n = tanh_c.shape
    order = ifog(h)
    dt = np.result_type(g_out, gates)
    da = np.empty((4 * h, steps, n), dt)                  # dL/d(pre-activation), every step
    dh = initial(g_final[0], (h, n), dt)                  # dL/dh_t, then dL/dh_{t-1}
    dc = initial(g_final[1], (h, n), dt)
    w_t = np.ascontiguousarray(w_hh.data[order].T)        # (H, 4H), read in C order
    block = np.empty((n, h), dt)                          # one step of g_out
    tmp = np.empty((h, n), dt)
    dsig = np.empty((3 * h, n), dt)
    for t in reversed(range(steps)):
        a, d = gates[t], da[:, t]                         # d: this step's (4H, N)
        i, f, o, g = a[:h], a[h:2 * h], a[2 * h:3 * h], a[3 * h:]
        di, df, do, dg = d[:h], d[h:2 * h], d[2 * h:3 * h], d[3 * h:]
        tc = tanh_c[t]
        add_transposed(dh, g_out[:, t], block)            # from the output and step t+1
        np.subtract(1, a[:3 * h], out=dsig)               # the sigmoids' slopes s (1 - s)
        dsig *= a[:3 * h]
        np.multiply(tc, tc, out=tmp)                      # dc += dh o (1 - tanh(c_t)^2)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        dc += tmp
        np.multiply(dh, tc, out=tmp)                      # h_t = o tanh(c_t)
        np.multiply(tmp, dsig[2 * h:], out=do)
        np.multiply(dc, g, out=tmp)                       # c_t = f c_{t-1} + i g
        np.multiply(tmp, dsig[:h], out=di)
        np.multiply(dc, cs[t], out=tmp)
        np.multiply(tmp, dsig[h:2 * h], out=df)
        np.multiply(g, g, out=tmp)                        # g's tanh: 1 - g^2
        np.subtract(1, tmp, out=tmp)
        tmp *= i
        np.multiply(tmp, dc, out=dg)
        dc *= f                                           # on to c_{t-1}
        np.matmul(w_t, d, out=dh)                         # on to h_{t-1}
    add_step_weight_grads(step_weight_grads(da, hx), h, w_ih, w_hh, b_ih, b_hh, rows=order)
    if not need_input_grad:
        return None, (dh.T, dc.T)
    return input_grad(w_ih.data[order], da), (dh.T, dc.T)
