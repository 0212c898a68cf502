"""Activations: gradient checks, PyTorch parity, extreme inputs, dtype and no in-place changes."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module

ACTIVATIONS = {
    "ReLU": (nn.ReLU, lambda t: t.nn.ReLU()),
    "LeakyReLU": (nn.LeakyReLU, lambda t: t.nn.LeakyReLU()),
    "LeakyReLU(0.2)": (lambda: nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2)),
    "Sigmoid": (nn.Sigmoid, lambda t: t.nn.Sigmoid()),
    "Tanh": (nn.Tanh, lambda t: t.nn.Tanh()),
    "Softmax": (nn.Softmax, lambda t: t.nn.Softmax(dim=-1)),
    "Softmax(dim=0)": (lambda: nn.Softmax(dim=0), lambda t: t.nn.Softmax(dim=0)),
    "Softmax(dim=1)": (lambda: nn.Softmax(dim=1), lambda t: t.nn.Softmax(dim=1)),
}
SHAPES = [(4, 5), (2, 3, 4), (2, 2, 3, 3)]


def away_from_kinks(shape, seed):
    """Standard normal values, but at least 0.01 from 0 (ReLU's kink)."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(np.abs(x) < 0.01, 0.5, x)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_gradcheck(name, shape):
    layer = ACTIVATIONS[name][0]()
    result = check_module(layer, away_from_kinks(shape, len(shape)) * 2, rng=1)
    assert result.ok, str(result)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_pytorch_parity_float64(name, shape):
    torch = pytest.importorskip("torch")
    make, make_torch = ACTIVATIONS[name]
    x = away_from_kinks(shape, 3) * 3
    g = np.random.default_rng(4).standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = make_torch(torch)(tx)
    ty.backward(torch.tensor(g))
    layer = make()
    np.testing.assert_allclose(layer(x), ty.detach().numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(layer.backward(g), tx.grad.numpy(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_kept_and_inputs_untouched(name):
    layer = ACTIVATIONS[name][0]()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    g = np.ones((3, 4), dtype=np.float32)
    x0, g0 = x.copy(), g.copy()
    y = layer(x)
    dx = layer.backward(g)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)
    np.testing.assert_array_equal(layer.backward(g), dx)  # backward is repeatable


def test_relu_values_and_gradient_at_zero():
    relu = nn.ReLU()
    x = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(relu(x), [[0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs(dtype):
    x = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype)
    g = np.ones_like(x)
    sig = nn.Sigmoid()
    s = sig(x)
    assert s[0, 0] == 0.0 and s[0, -1] == 1.0 and s[0, 2] == 0.5
    ds = sig.backward(g)
    assert np.all(np.isfinite(ds)) and ds[0, 0] == 0.0 and ds[0, -1] == 0.0
    th = nn.Tanh()
    t = th(x)
    assert t[0, 0] == -1.0 and t[0, -1] == 1.0
    assert np.all(np.isfinite(th.backward(g)))
    sm = nn.Softmax()
    p = sm(x)
    assert np.all(np.isfinite(p)) and p[0, -1] == 1.0 and p[0, 0] == 0.0
    assert np.all(np.isfinite(sm.backward(g)))
    for layer in (nn.ReLU(), nn.LeakyReLU()):
        assert np.all(np.isfinite(layer(x))) and np.all(np.isfinite(layer.backward(g)))


def test_softmax_rows_sum_to_one_and_gradient_of_sum_is_zero():
    sm = nn.Softmax(dim=1)
    x = np.random.default_rng(0).standard_normal((3, 4, 2)) * 5
    p = sm(x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(sm.backward(np.ones_like(x)), 0.0, atol=1e-15)


def test_softmax_dim_must_be_an_int():
    with pytest.raises(TypeError, match="dim must be an int"):
        nn.Softmax(dim=None)
