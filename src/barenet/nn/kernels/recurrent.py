"""The recurrent layers' fast kernels: what RNN, LSTM and GRU share, and the RNN's own loop
(LSTM's is in ``recurrent_lstm.py``, GRU's in ``recurrent_gru.py``).

The maths is the textbook code's (``nn/rnn.py``, ``nn/lstm.py``, ``nn/gru.py``); what differs
is the arrangement (times on the 2-core test machine, AMD EPYC, float32, N = 128, T = 28,
H = 128, while other work ran on it):

1. **Batch-last inside.** A step's gates are one contiguous (G*H, N) block of a (T, G*H, N)
   array, and each gate's (H, N) part is contiguous too. In the textbook's batch-first
   (N, G*H) rows each gate is N strided rows, and NumPy's element-wise loops pay per row: a
   multiply over (128, 384) of a (128, 512) block took 18 us, 2.3 us contiguous.
2. **One product per step, input terms included.** Slice [:, t] of an (H + I + 1, T + 1, N)
   array holds [h_{t-1}; x_t; 1] (``step_inputs``), so [W_hh | W_ih | b] @ that slice is the
   step's whole pre-activation, written straight into the gates' buffer: no input-product
   array (the textbook's xw, G T N H numbers) and no per-step adds of it and of the bias. The
   loop writes h_t into [:H, t + 1].
3. **No per-step temporaries.** Each step's element-wise work writes with ``out=`` into the
   per-sequence buffers or a few (H, N) scratch arrays made once per call.
4. **One product for all the weight gradients.** The gate gradients of every step go into a
   (G, T, N) array, so dL/d[W_hh | W_ih | b] = sum_t da_t [h_{t-1}; x_t; 1]^T is one
   (G, T*N) @ (T*N, H + I + 1) product over the same (H + I + 1, T + 1, N) array, no copy
   (``step_weight_grads``); dL/dx of all steps is one more (``input_grad``), skipped by
   ``backward_params_only``. With two BLAS threads and the machine busy, 28 per-step products
   summed took 19 to 340 ms, the single product 8 to 12 ms.

At the interface everything stays batch first: x (N, T, I) comes in any layout; the output
(N, T, H) and dL/dx (N, T, I) are views of the batch-last arrays, handed on under the layout
rule of ``nn/module.py`` (a layer that needs C order gets a copy; SelectStep and Linear read
them as they are). The upstream gradient is read one step at a time (``add_transposed``).

Measured with ``python benchmarks/profile_step.py --models lstm,gru,rnn`` (batch 128, Adam),
without and with ``--textbook`` in 8 alternating pairs of runs, on the 2-core AMD EPYC test
machine while other work ran on it: a training step against PyTorch's in the same run
(median [range]), and with one BLAS thread (5 pairs, medians):

    model   textbook             kernels              one thread: textbook -> kernels
    LSTM    1.81x [1.75-2.50]    1.17x [1.01-1.23]    1.36x -> 1.01x
    GRU     1.02x [0.77-1.15]    0.79x [0.62-0.82]    1.05x -> 0.80x
    RNN     0.84x [0.66-0.89]    0.74x [0.56-1.02]    0.76x -> 0.74x

The LSTM layer's forward + backward went from 27.3 to 17.6 ms (PyTorch's 12.8-14.1 ms). What
a step holds at its peak, per sample (tracemalloc): LSTM 266 -> 213 KB, GRU 194 -> 153 KB,
RNN 59 -> 50 KB.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..parameter import Parameter


def copy_steps(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out (F, T, N) <- x (N, T, F) of any strides. Directly when x's samples are adjacent
    (as in the kernels' outputs), else step by step through one (N, F) block: NumPy's single
    transposing copy took 5x as long at F = 128 (2.1 ms against 0.4 ms, N = 128, T = 28,
    float32), its loop reading x with a stride of T * F."""
    if x.strides[0] == x.itemsize:
        np.copyto(out, x.transpose(2, 1, 0))
        return out
    block = np.empty(x.shape[::2], out.dtype)
    for t in range(x.shape[1]):
        np.copyto(block, x[:, t])
        np.copyto(out[:, t], block.T)
    return out


def add_transposed(dst: np.ndarray, src: np.ndarray, block: np.ndarray) -> None:
    """dst (F, N) += src (N, F), src of any strides: one step's upstream gradient into the
    running dL/dh, through the (N, F) scratch ``block`` unless src's samples are adjacent.
    Step by step, the backward keeps no (H, T, N) copy of the upstream gradient. A step whose
    gradient is all zeros adds nothing and is skipped: behind SelectStep every step but one
    is, and the test took 3.5 us against 15-25 us for the transposed add (N = H = 128)."""
    if not src.any():
        return
    if src.strides[0] != src.itemsize:
        np.copyto(block, src)
        src = block
    dst += src.T


def batch_first(a: np.ndarray) -> np.ndarray:
    """An (F, T, N) array as the (N, T, F) view that the layers hand on."""
    return a.transpose(2, 1, 0)


def step_inputs(x: np.ndarray, h0: np.ndarray, hidden: int, bias: bool,
                dtype: np.dtype) -> np.ndarray:
    """What each step's one product reads: an (H + I [+ 1], T + 1, N) array whose slice
    [:, t] is [h_{t-1}; x_t; 1] for step t (the row of ones only with a bias). x (N, T, I),
    h0 (N, H). The loop writes h_t into [:H, t + 1]; the rest of [:, T] is unused."""
    n, steps, size = x.shape
    buf = np.empty((hidden + size + bias, steps + 1, n), dtype)
    buf[:hidden, 0] = h0.T
    copy_steps(x, buf[hidden:hidden + size, :steps])
    if bias:
        buf[-1, :steps] = 1
    return buf


def step_weights(w_ih: np.ndarray, w_hh: np.ndarray, b_ih: np.ndarray | None,
                 b_hh: np.ndarray | None) -> np.ndarray:
    """[W_hh | W_ih | b_ih + b_hh] (G, H + I [+ 1]): times ``step_inputs``' [:, t], one
    product gives W_hh h_{t-1} + W_ih x_t + b."""
    parts = [w_hh, w_ih] + ([] if b_ih is None else [(b_ih + b_hh)[:, None]])
    return np.concatenate(parts, axis=1)


def over_steps(a: np.ndarray) -> np.ndarray:
    """An (F, T, N) array, or its first T steps' slice of an (F, T + 1, N) one, as the
    (F, T * N) matrix of every step's columns side by side (a view, no copy)."""
    return a.reshape(a.shape[0], -1)


def step_weight_grads(da: np.ndarray, hx: np.ndarray) -> np.ndarray:
    """dL/d[W_hh | W_ih | b] = sum_t da_t [h_{t-1}; x_t; 1]^T (G, H + I [+ 1]) as one
    (G, T*N) @ (T*N, H + I [+ 1]) product. da (G, T, N), hx from ``step_inputs``."""
    return over_steps(da) @ over_steps(hx[:, :da.shape[1]]).T


def add_step_weight_grads(dw: np.ndarray, hidden: int, w_ih: Parameter, w_hh: Parameter,
                          b_ih: Any, b_hh: Any, rows: Any = slice(None)) -> None:
    """Accumulate the parameters' gradients from dL/d[W_hh | W_ih | b] (G, H + I [+ 1]), the
    gradient of ``step_weights``' matrix. ``rows`` picks, for each row of the parameters, the
    row of dw that holds its gradient (where a kernel reorders the gates)."""
    dw = dw[rows]
    size = w_ih.data.shape[1]
    w_hh.accumulate_grad(dw[:, :hidden])
    w_ih.accumulate_grad(dw[:, hidden:hidden + size])
    if b_ih is not None:
        b_ih.accumulate_grad(dw[:, -1])
        b_hh.accumulate_grad(dw[:, -1])


def input_grad(w_ih: np.ndarray, da: np.ndarray) -> np.ndarray:
    """dL/dx (N, T, I) = sum over gates of W_ih^T da_t for every step at once: one
    (I, G) @ (G, T*N) product, handed on as a view. da (G, T, N)."""
    return batch_first((w_ih.T @ over_steps(da)).reshape(-1, *da.shape[1:]))


def sigmoid_(a: np.ndarray) -> np.ndarray:
    """a <- sigmoid(a) = 0.5 + 0.5 tanh(a / 2), in place, with no temporary. Stable: nothing
    overflows, and +-1e4 give exactly 1 and 0. On float32 inputs in [-30, 30] it is off the
    exact value by at most 6.0e-8, ``functional.sigmoid``'s 1 / (1 + exp(-a)) by 8.9e-8; but
    values below 1e-7 (a < -16) come out as multiples of 6e-8, with no relative precision.
    Over (384, 128) float32 it took 29 us, 1 / (1 + exp(-a)) in place 42 us: 0.4 ms of an
    LSTM forward at T = 28."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def initial(state: np.ndarray | None, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """A fresh (H, N) array holding ``state`` (N, H) transposed, or zeros for None: the
    running dL/dh or dL/dc that the backward loop updates in place."""
    out = np.zeros(shape, dtype)
    if state is not None:
        out[...] = state.T
    return out


class RNNCache(NamedTuple):
    hx: np.ndarray                # (H + I [+ 1], T + 1, N): step_inputs, h_1 .. h_T filled in
    relu: bool


def rnn_forward(x: np.ndarray, h0: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                b_ih: np.ndarray | None, b_hh: np.ndarray | None, relu: bool = False
                ) -> tuple[np.ndarray, tuple[np.ndarray], RNNCache]:
    """x (N, T, I), h0 (N, H) -> (output (N, T, H), (h_T (N, H),), cache). Each step is one
    product into h_t's place and tanh (or ReLU) there, in place."""
    steps, h = x.shape[1], w_hh.shape[1]
    w = step_weights(w_ih, w_hh, b_ih, b_hh)              # (H, H + I [+ 1])
    hx = step_inputs(x, h0, h, b_ih is not None, np.result_type(x, w))
    for t in range(steps):
        a = hx[:h, t + 1]                                 # (H, N)
        np.matmul(w, hx[:, t], out=a)
        if relu:
            np.maximum(a, 0, out=a)
        else:
            np.tanh(a, out=a)
    hs = hx[:h, 1:]                                       # (H, T, N)
    return batch_first(hs), (hs[:, -1].T,), RNNCache(hx, relu)


def rnn_backward(g_out: np.ndarray, g_final: tuple, cache: RNNCache, w_ih: Parameter,
                 w_hh: Parameter, b_ih: Any, b_hh: Any, need_input_grad: bool = True
                 ) -> tuple[np.ndarray | None, tuple[np.ndarray]]:
    """dL/d(output) (N, T, H), (dL/dh_T (N, H) or None,) -> (dL/dx (N, T, I) or None,
    (dL/dh0 (N, H),)); accumulates every weight gradient."""
    hx, relu = cache
    steps, n, h = hx.shape[1] - 1, hx.shape[2], w_hh.data.shape[1]
    dt = np.result_type(g_out, hx)
    da = np.empty((h, steps, n), dt)                      # dL/d(pre-activation), every step
    d = np.empty((h, n), dt)                              # this step's
    dh = initial(g_final[0], (h, n), dt)
    block = np.empty((n, h), dt)                          # one step of g_out
    w_t = np.ascontiguousarray(w_hh.data.T)               # (H, H), read in C order
    for t in reversed(range(steps)):
        add_transposed(dh, g_out[:, t], block)            # from the output and step t+1
        ht = hx[:h, t + 1]
        if relu:
            np.multiply(dh, ht > 0, out=d)
        else:
            np.multiply(ht, ht, out=d)
            np.subtract(1, d, out=d)                      # tanh' = 1 - h^2
            d *= dh
        np.copyto(da[:, t], d)
        np.matmul(w_t, d, out=dh)                         # on to h_{t-1}
    add_step_weight_grads(step_weight_grads(da, hx), h, w_ih, w_hh, b_ih, b_hh)
    if not need_input_grad:
        return None, (dh.T,)
    return input_grad(w_ih.data, da), (dh.T,)
