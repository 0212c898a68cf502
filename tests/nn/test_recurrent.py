"""RNN, LSTM and GRU: PyTorch parity (outputs, final states, every gradient, the initial
states' gradients), gradient checks inside a network, dropout between layers, and errors."""
import itertools

import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module, numerical_vjp
from barenet.nn.recurrent_base import RNNBase

KINDS = {
    "RNN": (lambda *a, **k: nn.RNN(*a, **k), "RNN", {}),
    "RNN-relu": (lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k), "RNN",
                 {"nonlinearity": "relu"}),
    "LSTM": (lambda *a, **k: nn.LSTM(*a, **k), "LSTM", {}),
    "GRU": (lambda *a, **k: nn.GRU(*a, **k), "GRU", {}),
}
GRID = list(itertools.product(sorted(KINDS), [1, 2], [False, True], [False, True]))


def state_like(kind, shape, rng):
    """An initial state (or a final state's gradient) of the layer's kind."""
    if kind.startswith("LSTM"):
        return rng.standard_normal(shape), rng.standard_normal(shape)
    return rng.standard_normal(shape)


@pytest.mark.parametrize("kind, layers, bidirectional, with_state", GRID)
def test_pytorch_parity_float64(kind, layers, bidirectional, with_state, torch_compare):
    torch = pytest.importorskip("torch")
    make, torch_name, extra = KINDS[kind]
    seed = GRID.index((kind, layers, bidirectional, with_state))
    rng = np.random.default_rng(seed)
    n, t, i, h = (int(v) for v in rng.integers(1, [5, 7, 6, 6]))
    d = 1 + bidirectional
    torch.manual_seed(seed)
    tlayer = getattr(torch.nn, torch_name)(i, h, num_layers=layers, bidirectional=bidirectional,
                                           batch_first=True, **extra).double()
    layer = make(i, h, num_layers=layers, bidirectional=bidirectional).astype(np.float64)
    x = rng.standard_normal((n, t, i))
    g = rng.standard_normal((n, t, d * h))
    state_shape = (layers * d, n, h)
    hx = state_like(kind, state_shape, rng) if with_state else None
    g_final = state_like(kind, state_shape, rng) if with_state else None
    lstm = torch_name == "LSTM"
    t_hx = None
    if with_state:
        t_hx = tuple(torch.tensor(a, requires_grad=True) for a in hx) if lstm else \
            torch.tensor(hx, requires_grad=True)
    finals = {}

    def torch_call(m, tx):
        out, state = m(tx, t_hx)
        finals["torch"] = state
        if with_state:  # a loss on the final state too: its gradient enters at the last step
            for s, gs in zip(state if lstm else (state,), g_final if lstm else (g_final,)):
                (s * torch.tensor(gs)).sum().backward(retain_graph=True)
        return out

    diffs = torch_compare(layer, tlayer, x, g, call=lambda m, a: m(a, hx),
                          torch_call=torch_call, backward=lambda m, a: m.backward(a, g_final))
    t_states = finals["torch"] if lstm else (finals["torch"],)
    own_states = (layer.h_n, layer.c_n) if lstm else (layer.h_n,)
    for name, ours, theirs in zip(["h_n", "c_n"], own_states, t_states):
        diffs[name] = float(np.abs(ours - theirs.detach().numpy()).max())
    if with_state:  # dL/d(initial states), the final states' loss included
        own_grads = (layer.grad_h0, layer.grad_c0) if lstm else (layer.grad_h0,)
        for name, ours, theirs in zip(["h0", "c0"], own_grads, t_hx if lstm else (t_hx,)):
            diffs[name] = float(np.abs(ours - theirs.grad.numpy()).max())
    assert max(diffs.values()) < 1e-6, diffs


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("layers, bidirectional, dropout", [(1, False, 0.0), (2, True, 0.4)])
def test_gradcheck_after_another_layer(kind, layers, bidirectional, dropout):
    """In training mode, with dropout between layers (its mask replayed by the checker)."""
    make = KINDS[kind][0]
    model = nn.Sequential(nn.LayerNorm(3), make(3, 3, num_layers=layers,
                                                bidirectional=bidirectional, dropout=dropout,
                                                rng=1)).astype(np.float64)
    x = np.random.default_rng(2).standard_normal((2, 3, 3))
    result = check_module(model, x, rng=3)
    assert result.ok, str(result)
    assert "1.weight_hh_l0" in result.errors and "input" in result.errors
    if bidirectional:
        assert "1.bias_ih_l1_reverse" in result.errors


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_gradient_of_the_initial_state(kind):
    make = KINDS[kind][0]
    layer = make(3, 4, num_layers=2, bidirectional=True, rng=0).astype(np.float64)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3))
    hx = state_like(kind, (4, 2, 4), rng)
    g = rng.standard_normal((2, 5, 8))
    layer(x, hx)
    layer.backward(g)
    parts = hx if kind == "LSTM" else (hx,)
    grads = (layer.grad_h0, layer.grad_c0) if kind == "LSTM" else (layer.grad_h0,)
    for part, grad in zip(parts, grads):
        numeric = numerical_vjp(lambda: layer.forward(x, hx), part, g)
        np.testing.assert_allclose(grad, numeric, atol=1e-8, rtol=1e-6)


def test_a_wrong_gradient_is_caught(monkeypatch):
    original = RNNBase._weight_grads

    def planted(d_in, d_hid, x, h_prev, *params):     # forgets the hidden-to-hidden term
        original(d_in, d_hid * 0, x, h_prev, *params)

    monkeypatch.setattr(RNNBase, "_weight_grads", staticmethod(planted))
    layer = nn.GRU(3, 4, rng=0).astype(np.float64)
    with nn.kernels.textbook():             # the planted slip is in the textbook code
        result = check_module(layer, np.random.default_rng(1).standard_normal((2, 3, 3)))
    assert not result.ok and result.errors["weight_hh_l0"] > 1e-3


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_shapes_names_and_float32(kind):
    layer = KINDS[kind][0](5, 3, num_layers=2, bidirectional=True, rng=0)
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind.split("-")[0]]
    assert layer.weight_ih_l0.shape == (gates * 3, 5)
    assert layer.weight_ih_l1_reverse.shape == (gates * 3, 6)
    assert list(layer.state_dict())[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                            "bias_hh_l0", "weight_ih_l0_reverse"]
    assert all(p.dtype == np.float32 and np.abs(p.data).max() <= 1 / np.sqrt(3)
               for p in layer.parameters())
    x = np.random.default_rng(0).standard_normal((4, 7, 5)).astype(np.float32)
    y = layer(x)
    assert y.shape == (4, 7, 6) and y.dtype == np.float32 and layer.h_n.shape == (4, 4, 3)
    dx = layer.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == np.float32 and layer.grad_h0.shape == (4, 4, 3)
    # the last layer's forward-direction final state is its output at the last step
    np.testing.assert_array_equal(layer.h_n[2], y[:, -1, :3])
    np.testing.assert_array_equal(layer.h_n[3], y[:, 0, 3:])


def test_dropout_acts_in_training_only():
    a = nn.LSTM(3, 4, num_layers=2, dropout=0.5, rng=0)
    b = nn.LSTM(3, 4, num_layers=2, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 5, 3)).astype(np.float32)
    assert not np.allclose(a(x), b(x))
    a.eval()
    np.testing.assert_array_equal(a(x), b(x))


@pytest.mark.parametrize("call, words", [
    (lambda: nn.LSTM(3, 4, batch_first=False), "only batch_first=True"),
    (lambda: nn.GRU(0, 4), "input_size must be a positive int"),
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity must be"),
    (lambda: nn.LSTM(3, 4, dropout=1.5), "dropout must be a probability"),
    (lambda: nn.LSTM(3, 4)(np.zeros((2, 5, 4), np.float32)), "expected input of shape (N, T, 3)"),
    (lambda: nn.LSTM(3, 4)(np.zeros((2, 5, 3), np.float32), np.zeros((1, 2, 4))),
     "hx must be a pair (h, c)"),
    (lambda: nn.GRU(3, 4)(np.zeros((2, 5, 3), np.float32), np.zeros((2, 2, 4))),
     "hx must be a float array (1, 2, 4)"),
    (lambda: nn.RNN(3, 4).backward(np.zeros((2, 5, 4))), "backward called before forward"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises((ValueError, RuntimeError)) as info:
        call()
    assert words in str(info.value)
