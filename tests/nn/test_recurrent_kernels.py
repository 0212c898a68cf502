"""RNN, LSTM and GRU's fast kernels (``nn/kernels/recurrent*.py``) equal the textbook code.

Each case runs one layer's forward and backward twice on the same input, initial state and
upstream gradients: with the kernels (the default) and inside ``kernels.textbook()``, then
compares the output, h_n (and c_n), dL/dx, dL/dh0 (and dL/dc0) and every parameter gradient.
Cases cover batch 1 and odd sizes, one step and longer sequences, stacked and bidirectional
layers, no bias, dropout between layers, float32 and float64, inputs and upstream gradients in
several memory layouts, and ``backward_params_only``. (Only batch_first=True exists.) The
planted-bug tests change one detail of a kernel's source as a real slip would (gates swapped,
a step off by one, a sum over time that misses a step) and show that the comparison fails.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kernels import mutated

import barenet.nn.gru as gru_layer
import barenet.nn.lstm as lstm_layer
import barenet.nn.rnn as rnn_layer
from barenet import nn
from barenet.nn import functional as F
from barenet.nn import kernels
from barenet.nn.kernels import recurrent, recurrent_gru, recurrent_lstm

KINDS = ["RNN", "RNN-relu", "LSTM", "GRU"]
TOL = {np.float32: 3e-5, np.float64: 1e-11}   # relative to the largest value compared


def make(kind: str, i: int, h: int, dtype=np.float64, **kw) -> nn.Module:
    if kind == "RNN-relu":
        return nn.RNN(i, h, nonlinearity="relu", rng=0, **kw).astype(dtype)
    return getattr(nn, kind)(i, h, rng=0, **kw).astype(dtype)


def layout(a: np.ndarray, how: str) -> np.ndarray:
    """The values of an (N, T, F) array in another memory layout."""
    if how == "F":
        return np.asfortranarray(a)
    if how == "strided":
        s = np.zeros(a.shape[:2] + (2 * a.shape[2],), a.dtype)[..., ::2]
        s[...] = a
        return s
    if how == "reversed":                    # as the backward direction reads its input
        return np.ascontiguousarray(a[:, ::-1])[:, ::-1]
    if how == "batch-last":                  # as the kernels hand on outputs and dL/dx
        return np.ascontiguousarray(a.transpose(1, 2, 0)).transpose(2, 0, 1)
    return np.ascontiguousarray(a)


def state(kind: str, shape: tuple, rng: np.random.Generator, dtype):
    if kind == "LSTM":
        return tuple(rng.standard_normal(shape).astype(dtype) for _ in range(2))
    return rng.standard_normal(shape).astype(dtype)


def run(layer: nn.Module, x, hx, g, g_final, params_only: bool) -> dict[str, np.ndarray]:
    """Everything a forward and backward produce, by name."""
    layer.zero_grad()
    layer.rng = np.random.default_rng(5)     # the same dropout masks in both runs
    y = layer(x, hx)
    got = {"output": np.array(y), "h_n": layer.h_n.copy()}
    if isinstance(layer, nn.LSTM):
        got["c_n"] = layer.c_n.copy()
    if params_only:
        assert layer.backward_params_only(g) is None
    else:
        got["dx"] = np.array(layer.backward(g, g_final))
        got["h0"] = layer.grad_h0.copy()
        if isinstance(layer, nn.LSTM):
            got["c0"] = layer.grad_c0.copy()
    for name, p in layer.named_parameters():
        got[name] = p.grad.copy()
    return got


def assert_kernel_matches_textbook(layer, x, hx=None, g=None, g_final=None,
                                   params_only=False) -> None:
    fast = run(layer, x, hx, g, g_final, params_only)
    with kernels.textbook():
        plain = run(layer, x, hx, g, g_final, params_only)
    assert fast.keys() == plain.keys()
    tol = TOL[x.dtype.type]
    for name, want in plain.items():
        scale = max(1.0, float(np.abs(want).max(initial=0)))
        np.testing.assert_allclose(fast[name], want, rtol=tol, atol=tol * scale, err_msg=name)


def sparse(g: np.ndarray) -> np.ndarray:
    """g with most steps zero, as SelectStep sends back: the last step whole, the middle one
    for every sample but the first."""
    out = np.zeros_like(g)
    out[:, -1] = g[:, -1]
    out[1:, g.shape[1] // 2] = g[1:, g.shape[1] // 2]
    return out


def case(kind, n, t, i, h, layers=1, bidirectional=False, bias=True, dropout=0.0,
         dtype=np.float64, x_layout="C", g_layout="C", with_state=True, params_only=False,
         seed=0, sparse_g=False):
    """Build the layer and its inputs, and compare the kernel with the textbook code."""
    rng = np.random.default_rng(seed)
    layer = make(kind, i, h, dtype, num_layers=layers, bidirectional=bidirectional,
                 bias=bias, dropout=dropout)
    d = 1 + bidirectional
    x = layout(rng.standard_normal((n, t, i)).astype(dtype), x_layout)
    g = rng.standard_normal((n, t, d * h)).astype(dtype)
    g = layout(sparse(g) if sparse_g else g, g_layout)
    shape = (layers * d, n, h)
    hx = state(kind, shape, rng, dtype) if with_state else None
    g_final = state(kind, shape, rng, dtype) if with_state else None
    assert_kernel_matches_textbook(layer, x, hx, g, g_final, params_only)


# -- chosen cases ----------------------------------------------------------------------------
GRID = [  # (n, t, i, h, layers, bidirectional, bias, dropout)
    (1, 1, 1, 1, 1, False, True, 0.0),       # one sample, one step, one unit
    (1, 9, 3, 5, 1, False, True, 0.0),       # batch 1, a longer sequence
    (3, 1, 4, 7, 2, False, True, 0.0),       # one step through a stack
    (5, 6, 3, 3, 1, True, True, 0.0),        # bidirectional
    (3, 7, 5, 9, 2, True, False, 0.0),       # stacked, both ways, no bias
    (4, 5, 2, 3, 3, False, True, 0.5),       # dropout between three layers
    (2, 4, 6, 4, 2, True, True, 0.3),        # dropout between bidirectional layers
    (7, 3, 1, 11, 1, False, False, 0.0),     # N != H, odd sizes
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, t, i, h, layers, bidirectional, bias, dropout", GRID)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_equals_textbook(kind, n, t, i, h, layers, bidirectional, bias, dropout, dtype):
    case(kind, n, t, i, h, layers, bidirectional, bias, dropout, dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("x_layout", ["F", "strided", "reversed", "batch-last"])
@pytest.mark.parametrize("g_layout", ["C", "strided", "batch-last"])
def test_inputs_and_gradients_in_any_layout(kind, x_layout, g_layout):
    case(kind, 3, 5, 4, 6, layers=2, x_layout=x_layout, g_layout=g_layout)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_backward_params_only_and_zero_states(kind, layers, bidirectional):
    case(kind, 3, 4, 2, 5, layers, bidirectional, with_state=False, params_only=True)
    case(kind, 3, 4, 2, 5, layers, bidirectional, with_state=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("g_layout", ["C", "batch-last"])
def test_an_upstream_gradient_with_zero_steps(kind, g_layout):
    case(kind, 3, 5, 2, 4, g_layout=g_layout, sparse_g=True)
    case(kind, 3, 5, 2, 4, layers=2, bidirectional=True, g_layout=g_layout, sparse_g=True)


def test_a_sequential_hands_on_the_kernel_layout():
    """Behind a LayerNorm and in front of SelectStep and Linear, as the presets use it; and
    behind a layer that needs C order, which gets a copy (Module.__call__)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 3))
    for kind in KINDS:
        model = nn.Sequential(nn.LayerNorm(3), make(kind, 3, 5), nn.LayerNorm(5),
                              make(kind, 5, 4), nn.SelectStep(), nn.Linear(4, 2, rng=1))
        model = model.astype(np.float64)
        g = rng.standard_normal((4, 2))
        runs = []
        for fast in (True, False):
            kernels.set_enabled(fast)
            try:
                model.zero_grad()
                y = model(x)
                dx = model.backward(g)
                runs.append([y, dx] + [p.grad.copy() for p in model.parameters()])
            finally:
                kernels.set_enabled(True)
        for a, b in zip(*runs):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("kind", KINDS)
def test_float32_stays_close_to_float64_over_a_long_sequence(kind):
    """28 steps of 64 units: the float32 kernel against the float64 textbook code."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 28, 28)) * 0.5
    g = rng.standard_normal((16, 28, 64))
    lo, hi = make(kind, 28, 64, np.float32), make(kind, 28, 64, np.float64)
    fast = run(lo, x.astype(np.float32), None, g.astype(np.float32), None, False)
    with kernels.textbook():
        exact = run(hi, x, None, g, None, False)
    for name, want in exact.items():
        err = float(np.abs(fast[name] - want).max()) / max(1.0, float(np.abs(want).max()))
        assert err < 2e-5, (name, err)


# -- random shapes ---------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), n=st.integers(1, 5), t=st.integers(1, 8),
       i=st.integers(1, 6), h=st.integers(1, 7), layers=st.integers(1, 2),
       bidirectional=st.booleans(), bias=st.booleans(),
       dtype=st.sampled_from([np.float32, np.float64]),
       x_layout=st.sampled_from(["C", "F", "strided", "reversed", "batch-last"]),
       g_layout=st.sampled_from(["C", "strided", "batch-last"]),
       with_state=st.booleans(), params_only=st.booleans(), seed=st.integers(0, 99),
       sparse_g=st.booleans())
def test_kernel_equals_textbook_on_random_shapes(kind, n, t, i, h, layers, bidirectional, bias,
                                                 dtype, x_layout, g_layout, with_state,
                                                 params_only, seed, sparse_g):
    case(kind, n, t, i, h, layers, bidirectional, bias, 0.0, dtype, x_layout, g_layout,
         with_state, params_only, seed, sparse_g)


# -- the helpers -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_in_place_sigmoid_is_stable_and_as_accurate_as_functional_sigmoid(dtype):
    a = np.concatenate([[-1e4, -100.0, 100.0, 1e4], np.linspace(-30, 30, 100_001)]).astype(dtype)
    with np.errstate(all="raise"):
        got = recurrent.sigmoid_(a.copy())
    assert got.dtype == dtype and list(got[:4]) == [0, 0, 1, 1]
    exact = 1 / (1 + np.exp(-a.astype(np.longdouble)))
    err = np.abs(got - exact).max()                     # about half an ulp of 1
    assert err <= np.abs(F.sigmoid(a) - exact).max() and err <= np.finfo(dtype).eps / 2


@pytest.mark.parametrize("how", ["C", "F", "strided", "reversed", "batch-last"])
def test_step_copies_and_transposed_adds(how):
    x = layout(np.random.default_rng(0).standard_normal((3, 4, 5)), how)
    want = x.transpose(2, 1, 0)                           # (F, T, N)
    out = np.zeros((5, 4, 3))
    assert recurrent.copy_steps(x, out) is out
    np.testing.assert_array_equal(out, want)
    dst = np.ones((5, 3))
    recurrent.add_transposed(dst, x[:, 2], np.empty((3, 5)))
    np.testing.assert_array_equal(dst, 1 + want[:, 2])


def test_the_weight_gradient_product_reads_the_step_inputs_without_a_copy():
    x, h0 = np.ones((3, 4, 2)), np.zeros((3, 5))
    hx = recurrent.step_inputs(x, h0, 5, True, np.float64)          # (5 + 2 + 1, 4 + 1, 3)
    cols = recurrent.over_steps(hx[:, :4])                          # (8, 4 * 3)
    assert hx.shape == (8, 5, 3) and cols.shape == (8, 12) and np.shares_memory(cols, hx)
    np.testing.assert_array_equal(cols[5:7], 1)                     # x's rows and the ones
    np.testing.assert_array_equal(cols[7], 1)


# -- planted bugs: the comparison above must catch each of these -----------------------------
PLANTED = [  # (kernel module, what a slip would change, the layer it reaches)
    ("recurrent_lstm", "np.r_[0:2 * h, 3 * h:4 * h, 2 * h:3 * h]",        # gates g, o swapped
     "np.r_[0:2 * h, 2 * h:3 * h, 3 * h:4 * h]", "LSTM"),
    ("recurrent_lstm", "np.multiply(f, cs[t], out=cs[t + 1])",            # c_{t-2} for c_{t-1}
     "np.multiply(f, cs[max(t - 1, 0)], out=cs[t + 1])", "LSTM"),
    ("recurrent_lstm", "np.multiply(dc, cs[t], out=tmp)",                 # df from c_t
     "np.multiply(dc, cs[t + 1], out=tmp)", "LSTM"),
    ("recurrent_lstm", "dc *= f ", "dc *= i ", "LSTM"),                   # the wrong gate
    ("recurrent_lstm", "add_transposed(dh, g_out[:, t], block)",          # a step late
     "add_transposed(dh, g_out[:, t - 1], block)", "LSTM"),
    ("recurrent_lstm", "a, d = gates[t], da[:, t]",                       # steps stored reversed
     "a, d = gates[t], da[:, steps - 1 - t]", "LSTM"),
    ("recurrent_lstm", "np.multiply(tmp, dsig[h:2 * h], out=df)",         # f through i's slope
     "np.multiply(tmp, dsig[:h], out=df)", "LSTM"),
    ("recurrent", "    dst += src.T", "    dst[...] = src.T", "GRU"),      # later steps dropped
    ("recurrent", "if not src.any():", "if not src[:1].any():", "LSTM"),  # sample 0 decides
    ("recurrent", "over_steps(hx[:, :da.shape[1]])",                      # h_t for h_{t-1}
     "over_steps(hx[:, 1:])", "LSTM"),
    ("recurrent", "buf[-1, :steps] = 1", "buf[-1, :steps] = 0", "RNN"),   # the bias dropped
    ("recurrent", "    a += 0.5\n", "    a += 0.25\n", "GRU"),                # not the sigmoid
    ("recurrent", "out[...] = state.T", "out[...] = state.T[::-1]", "LSTM"),  # dh_T misplaced
    ("recurrent", "            np.subtract(1, d, out=d)", "            pass", "RNN"),
    ("recurrent", "np.copyto(out[:, t], block.T)",                        # a step's x misplaced
     "np.copyto(out[:, t], block.T[::-1])", "RNN"),
    ("recurrent_gru", "np.multiply(r, v_n, out=tmp)", "np.multiply(z, v_n, out=tmp)", "GRU"),
    ("recurrent_gru", "np.multiply(dn, r, out=d[2 * h:])",               # dv_n = du_n
     "np.copyto(d[2 * h:], dn)", "GRU"),
    ("recurrent_gru", "w[2 * h:, -1] = b_hh[2 * h:]", "w[2 * h:, -1] = b_ih[2 * h:]", "GRU"),
    ("recurrent_gru", "np.subtract(hx[:h, t], nt, out=d[h:2 * h])",       # h_t for h_{t-1}
     "np.subtract(hx[:h, t + 1], nt, out=d[h:2 * h])", "GRU"),
    ("recurrent_gru", "du_n.sum(axis=(1, 2))", "du_n[:, -1].sum(axis=1)", "GRU"),  # last step
]


@pytest.mark.parametrize("which, old, new, kind", PLANTED)
def test_a_planted_kernel_bug_is_caught(monkeypatch, which, old, new, kind):
    args = dict(kind=kind, n=3, t=4, i=2, h=5, layers=2, bidirectional=True,
                sparse_g="src.any" in old)                # zero steps where that code skips
    case(**args)                                          # the real kernels pass
    modules = {"recurrent": recurrent, "recurrent_lstm": recurrent_lstm,
               "recurrent_gru": recurrent_gru}
    bad = mutated(modules[which], old, new)
    if which == "recurrent":                              # the shared helpers, as each uses them
        monkeypatch.setattr(rnn_layer, "fast", bad)
        for kernel in (recurrent_lstm, recurrent_gru):
            for name, value in list(vars(kernel).items()):
                if callable(value) and getattr(recurrent, name, None) is value:
                    monkeypatch.setattr(kernel, name, getattr(bad, name))
    else:
        layer_module = lstm_layer if which == "recurrent_lstm" else gru_layer
        monkeypatch.setattr(layer_module, "fast", bad)
    with pytest.raises(AssertionError):
        case(**args)
