"""GRU's fast kernel: ``nn/gru.py``'s maths, batch-last, each step's work done in place.

Beyond what ``recurrent.py`` describes (batch-last arrays, one product per step with the
input terms folded in, no per-step temporaries, one product for the weight gradients), GRU's
own arrangement, since n needs its input and hidden terms apart (n = tanh(u_n + r v_n)):

- **A step's (4H, N) block holds r, z, v_n, n.** One product with [W_hh | W_ih | b] gives r
  and z before their sigmoid (one in-place call on the (2H, N) block) and v_n = W_hn h_{t-1}
  + b_hn (the n rows' W_ih part is zeroed: H * I products wasted against a second product per
  step); u_n = W_in x_t + b_in for every step is one stacked product before the loop, written
  where n then goes. v_n stays there for backward.
- **Backward keeps dL/dv whole and dL/du's n part apart**: dL/du and dL/dv differ only in n
  (du_n = dn_pre, dv_n = dn_pre r), so one (3H, T, N) array feeds dW_hh and dW_ih's r and z
  rows (one product, ``step_weight_grads``), and an (H, T, N) one dW_in, b_in and dL/dx's n
  part (the textbook keeps two (N, T, 3H) arrays). Timings: ``recurrent.py``.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..parameter import Parameter
from .recurrent import (
    add_transposed,
    batch_first,
    initial,
    input_grad,
    over_steps,
    sigmoid_,
    step_inputs,
    step_weight_grads,
    step_weights,
)


class GRUCache(NamedTuple):
    hx: np.ndarray            # (H + I [+ 1], T + 1, N): step_inputs, h_1 .. h_T filled in
    gates: np.ndarray         # (T, 4H, N): r, z (after their sigmoid), v_n, n


def gru_forward(x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None, b_hh: np.ndarray | None
                ) -> tuple[np.ndarray, tuple[np.ndarray], GRUCache]:
    """x (N, T, I), h0 (N, H) -> (output (N, T, H), (h_T (N, H),), cache)."""
    n, steps, size = x.shape
    h = w_hh.shape[1]
    w = step_weights(w_ih, w_hh, b_ih, b_hh)              # (3H, H + I [+ 1])
    w[2 * h:, h:h + size] = 0                             # v_n = W_hn h_{t-1} + b_hn only
    if b_ih is not None:
        w[2 * h:, -1] = b_hh[2 * h:]
    dt = np.result_type(x, w)
    hx = step_inputs(x, h0, h, b_ih is not None, dt)
    gates = np.empty((steps, 4 * h, n), dt)
    xs = hx[h:h + size, :steps].transpose(1, 0, 2)       # (T, I, N)
    np.matmul(w_ih[2 * h:], xs, out=gates[:, 3 * h:])     # u_n of every step
    if b_ih is not None:
        gates[:, 3 * h:] += b_ih[2 * h:, None]
    tmp = np.empty((h, n), dt)
    for t in range(steps):
        a = gates[t]                                      # (4H, N): r, z, v_n, n
        np.matmul(w, hx[:, t], out=a[:3 * h])             # r, z before the sigmoid; v_n
        sigmoid_(a[:2 * h])
        r, z, v_n, nt = a[:h], a[h:2 * h], a[2 * h:3 * h], a[3 * h:]
        np.multiply(r, v_n, out=tmp)                      # n = tanh(u_n + r v_n)
        nt += tmp
        np.tanh(nt, out=nt)
        np.subtract(hx[:h, t], nt, out=tmp)               # h_t = n + z (h_{t-1} - n)
        tmp *= z
        np.add(nt, tmp, out=hx[:h, t + 1])
    hs = hx[:h, 1:]                                       # (H, T, N)
    return batch_first(hs), (hs[:, -1].T,), GRUCache(hx, gates)


def gru_backward(g_out: np.ndarray, g_final: tuple, cache: GRUCache, w_ih: Parameter,
                 w_hh: Parameter, b_ih: Any, b_hh: Any, need_input_grad: bool = True
                 ) -> tuple[np.ndarray | None, tuple[np.ndarray]]:
    """dL/d(output) (N, T, H), (dL/dh_T (N, H) or None,) -> (dL/dx (N, T, I) or None,
    (dL/dh0 (N, H),)); accumulates every weight gradient."""
    hx, gates = cache
    steps, n, h = gates.shape[0], gates.shape[2], gates.shape[1] // 4
    size = w_ih.data.shape[1]
    dt = np.result_type(g_out, gates)
    dv = np.empty((3 * h, steps, n), dt)                  # dL/dv: dr_pre, dz_pre, dn_pre r
    du_n = np.empty((h, steps, n), dt)                    # dL/du_n = dn_pre
    d = np.empty((3 * h, n), dt)                          # this step's dv
    dn = np.empty((h, n), dt)                             # and du_n
    dh = initial(g_final[0], (h, n), dt)
    block = np.empty((n, h), dt)                          # one step of g_out
    tmp = np.empty((h, n), dt)
    dsig = np.empty((2 * h, n), dt)
    back = np.empty((h, n), dt)
    w_t = np.ascontiguousarray(w_hh.data.T)               # (H, 3H), read in C order
    for t in reversed(range(steps)):
        a = gates[t]
        r, z, v_n, nt = a[:h], a[h:2 * h], a[2 * h:3 * h], a[3 * h:]
        add_transposed(dh, g_out[:, t], block)            # from the output and step t+1
        np.multiply(nt, nt, out=dn)                       # dn_pre = dh (1 - z) (1 - n^2)
        np.subtract(1, dn, out=dn)
        dn *= dh
        np.subtract(1, z, out=tmp)
        dn *= tmp
        np.multiply(dn, v_n, out=d[:h])                   # dr_pre = dn_pre v_n r (1 - r)
        np.subtract(hx[:h, t], nt, out=d[h:2 * h])        # dz_pre = dh (h_{t-1} - n) z (1 - z)
        d[h:2 * h] *= dh
        np.subtract(1, a[:2 * h], out=dsig)               # through the sigmoids: s (1 - s)
        dsig *= a[:2 * h]
        d[:2 * h] *= dsig
        np.multiply(dn, r, out=d[2 * h:])                 # dv_n = dn_pre r
        np.copyto(dv[:, t], d)
        np.copyto(du_n[:, t], dn)
        np.matmul(w_t, d, out=back)                       # on to h_{t-1}: via v and directly
        dh *= z
        dh += back
    dw = step_weight_grads(dv, hx)                        # (3H, H + I [+ 1]); n's x part unused
    w_hh.accumulate_grad(dw[:, :h])
    xs = over_steps(hx[h:h + size, :steps])               # (I, T * N)
    w_ih.accumulate_grad(np.concatenate([dw[:2 * h, h:h + size], over_steps(du_n) @ xs.T]))
    if b_ih is not None:
        b_hh.accumulate_grad(dw[:, -1])
        b_ih.accumulate_grad(np.concatenate([dw[:2 * h, -1], du_n.sum(axis=(1, 2))]))
    if not need_input_grad:
        return None, (dh.T,)
    dx = input_grad(w_ih.data[:2 * h], dv[:2 * h])        # dL/du = [dr, dz, dn_pre]
    dx += input_grad(w_ih.data[2 * h:], du_n)
    return dx, (dh.T,)
