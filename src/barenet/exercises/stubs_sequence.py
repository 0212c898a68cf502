"""Stub classes of the sequence exercises: rnn, lstm, layernorm, attention."""

_RECURRENT_INIT = '''
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 rng: init.RNGLike = None, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = {rows}
        bound = 1.0 / np.sqrt(hidden_size)
        gen = init.as_generator(rng)
        self.weight_ih_l0 = nn.Parameter(init.uniform((rows, input_size), bound, gen, dtype))
        self.weight_hh_l0 = nn.Parameter(init.uniform((rows, hidden_size), bound, gen, dtype))
        self.bias_ih_l0 = nn.Parameter(init.uniform((rows,), bound, gen, dtype)) if bias else None
        self.bias_hh_l0 = nn.Parameter(init.uniform((rows,), bound, gen, dtype)) if bias else None
'''

_IMPORTS = '''
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.nn import init
'''

RNN = _IMPORTS + '''

class RNN(nn.Module):
    """One layer of an Elman RNN over batch-first sequences, as barenet's nn.RNN (one layer,
    tanh, h_0 = 0).

    Shapes: x (N, T, input_size) -> h (N, T, hidden_size), every step's hidden state.
    weight_ih_l0 W_ih (H, input_size), weight_hh_l0 W_hh (H, H), bias_ih_l0 and bias_hh_l0
    (H,) (None when bias=False).
    """
''' + _RECURRENT_INIT.format(rows="hidden_size") + '''
    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, T, input_size) -> h (N, T, H).

        h_0 = 0;  for t = 1..T:  a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh   (N, H)
                                 h_t = tanh(a_t)
        A loop over time is fine. Keep x and every h_t (h_0 included) for backward.
        """
        raise NotImplementedError("RNN.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g (N, T, H), dL/dh_t of every step -> dL/dx (N, T, input_size).

        Backpropagation through time, from t = T down to 1, dh starting at 0:
            dh   = dh + g_t                 (from the output at t and from step t + 1)
            da_t = dh * (1 - h_t^2)         (tanh' from the OUTPUT h_t)
            dx_t = da_t W_ih,   dh = da_t W_hh   (carried on to step t - 1)
        dW_ih = sum_t da_t^T x_t,  dW_hh = sum_t da_t^T h_{t-1} (the PREVIOUS state),
        db_ih = db_hh = sum_{n, t} da_t.   ADD to every .grad.
        """
        raise NotImplementedError("RNN.backward")
'''

LSTM = _IMPORTS + '''

class LSTM(nn.Module):
    """One LSTM layer over batch-first sequences, as barenet's nn.LSTM (one layer, h_0 = c_0 = 0).

    Shapes: x (N, T, input_size) -> h (N, T, hidden_size). weight_ih_l0 (4H, input_size),
    weight_hh_l0 (4H, H), bias_ih_l0 and bias_hh_l0 (4H,): the rows of the four gates stacked
    in PyTorch's order i, f, g, o (rows 0:H, H:2H, 2H:3H, 3H:4H).
    """
''' + _RECURRENT_INIT.format(rows="4 * hidden_size  # the gates i, f, g, o stacked") + '''
    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, T, input_size) -> h (N, T, H).

        h_0 = c_0 = 0; for each t:
            a = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh        (N, 4H)
            i = sigmoid(a[:, 0:H])      input gate
            f = sigmoid(a[:, H:2H])     forget gate
            g = tanh(a[:, 2H:3H])       candidate cell
            o = sigmoid(a[:, 3H:4H])    output gate
            c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
        Keep x, the gates, every c_t and h_t for backward.
        """
        raise NotImplementedError("LSTM.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, T, H), dL/dh_t of every step -> dL/dx (N, T, input_size).

        From t = T down to 1, with dh = dc = 0 at first:
            dh += grad_out_t
            do = dh * tanh(c_t);     dc += dh * o * (1 - tanh(c_t)^2)
            di = dc * g;  dg = dc * i;  df = dc * c_{t-1};   dc = dc * f   (on to t - 1)
            da = [di i (1 - i), df f (1 - f), dg (1 - g^2), do o (1 - o)]   (N, 4H)
            dx_t = da W_ih;   dh = da W_hh                                  (on to t - 1)
        dW_ih = sum_t da^T x_t,  dW_hh = sum_t da^T h_{t-1},  db_ih = db_hh = sum da.
        ADD to every .grad.
        """
        raise NotImplementedError("LSTM.backward")
'''

LAYERNORM = '''
from __future__ import annotations

import numpy as np

from barenet import nn


class LayerNorm(nn.Module):
    """Layer normalisation over the last axis: each row (each token) normalised by its own
    mean and variance. Shapes: x (N, *, D) -> y, the same shape, D = normalized_shape;
    weight and bias (D,) (no weight or bias when elementwise_affine=False; no bias when
    bias=False).
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        self.normalized_shape, self.eps = (normalized_shape,), eps
        affine = elementwise_affine
        self.weight = nn.Parameter(np.ones(normalized_shape, dtype)) if affine else None
        self.bias = nn.Parameter(np.zeros(normalized_shape, dtype)) if affine and bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, *, D) -> y (N, *, D). Over the LAST axis of each row (D values):
            mu = mean(x),  var = mean((x - mu)^2)      (biased: divide by D)
            xhat = (x - mu) / sqrt(var + eps),   y = xhat * weight + bias
        """
        raise NotImplementedError("LayerNorm.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g (N, *, D) -> dL/dx (N, *, D).

        dL/dweight = sum over all rows of g * xhat,  dL/dbias = sum over rows of g  (ADD)
        With gx = g * weight (g itself without a weight), per row:
            dL/dx = (gx - mean(gx) - xhat * mean(gx * xhat)) / sqrt(var + eps)
        """
        raise NotImplementedError("LayerNorm.backward")
'''

ATTENTION = '''
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.nn import init


class SelfAttention(nn.Module):
    """One head of scaled dot-product self-attention, as barenet's
    nn.MultiheadAttention(embed_dim, num_heads=1) computes it (same parameters, same names).

    Shapes: x (N, T, E) -> y (N, T, E). in_proj_weight (3E, E): the rows of W_q, W_k, W_v
    stacked; in_proj_bias (3E,); out_proj a barenet nn.Linear(E, E) (call its forward and
    backward yourself: it is done for you).
    """

    def __init__(self, embed_dim: int, bias: bool = True, rng: init.RNGLike = None,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        gen = init.as_generator(rng)
        e = embed_dim
        self.in_proj_weight = nn.Parameter(init.xavier_uniform((3 * e, e), rng=gen, dtype=dtype))
        self.in_proj_bias = nn.Parameter(np.zeros(3 * e, dtype)) if bias else None
        self.out_proj = nn.Linear(e, e, bias=bias, rng=gen, dtype=dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, T, E) -> y (N, T, E), with d = E (one head):
            [Q, K, V] = x W_in^T + b_in              each (N, T, E): columns 0:E, E:2E, 2E:3E
            S = Q K^T / sqrt(d)                      (N, T, T): query i against key j
            P = softmax(S) over the KEYS (last axis; subtract each row's maximum)
            O = P V                                  (N, T, E)
            y = self.out_proj(O.reshape(N * T, E)).reshape(N, T, E)
        Keep x, Q, K, V and P for backward.
        """
        raise NotImplementedError("SelfAttention.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, T, E) -> dL/dx (N, T, E).

            G  = self.out_proj.backward(grad_out.reshape(N * T, E)).reshape(N, T, E)   (dL/dO)
            dV = P^T G,    dP = G V^T
            dS = P * (dP - sum_j(dP * P))            (softmax backward, row by row)
            dQ = dS K / sqrt(d),   dK = dS^T Q / sqrt(d)
            dQKV = [dQ, dK, dV] (N, T, 3E):  dW_in = sum over N, T of dQKV^T x,
            db_in = sum over N, T of dQKV  (ADD),   dL/dx = dQKV W_in
        """
        raise NotImplementedError("SelfAttention.backward")
'''
