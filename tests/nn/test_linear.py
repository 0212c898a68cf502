"""Linear: shapes, dtype, initialisation, gradient check, accumulation, PyTorch parity."""
import math

import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module


def test_shapes_dtype_and_default_init():
    layer = nn.Linear(20, 7, rng=0)
    assert layer.weight.shape == (7, 20) and layer.bias.shape == (7,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = 1 / math.sqrt(20)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    x = np.ones((3, 20), dtype=np.float32)
    y = layer(x)
    assert y.shape == (3, 7) and y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32


def test_same_seed_same_weights_and_reset_parameters():
    a, b = nn.Linear(5, 3, rng=42), nn.Linear(5, 3, rng=42)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    a.reset_parameters(rng=1)
    assert not np.array_equal(a.weight.data, b.weight.data)
    a.reset_parameters(rng=42)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert nn.Linear(5, 3, dtype=np.float64).weight.dtype == np.float64


def test_invalid_sizes():
    with pytest.raises(ValueError, match="features must be positive"):
        nn.Linear(0, 3)


def test_no_bias():
    layer = nn.Linear(4, 2, bias=False, rng=0)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.weight.data.T, rtol=1e-6)


@pytest.mark.parametrize("n, fin, fout, bias", [
    (1, 1, 1, True), (4, 3, 5, True), (6, 7, 2, False), (3, 10, 10, True)])
def test_gradcheck(n, fin, fout, bias):
    layer = nn.Linear(fin, fout, bias=bias, rng=n).astype(np.float64)
    x = np.random.default_rng(fin).standard_normal((n, fin))
    result = check_module(layer, x, rng=fout)
    assert result.ok, str(result)
    assert set(result.errors) == ({"input", "weight", "bias"} if bias else {"input", "weight"})


def test_grads_accumulate_until_zeroed():
    layer = nn.Linear(3, 2, rng=0).astype(np.float64)
    x = np.random.default_rng(1).standard_normal((4, 3))
    g = np.random.default_rng(2).standard_normal((4, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    np.testing.assert_allclose(once, g.T @ x)
    layer.zero_grad()
    assert not layer.weight.grad.any()


def test_backward_does_not_modify_its_inputs():
    layer = nn.Linear(3, 2, rng=0)
    x = np.ones((4, 3), dtype=np.float32)
    g = np.ones((4, 2), dtype=np.float32)
    layer(x)
    layer.backward(g)
    assert np.all(x == 1) and np.all(g == 1)


@pytest.mark.parametrize("bias", [True, False])
def test_pytorch_parity_float64(bias):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Linear(6, 4, bias=bias).double()
    b = nn.Linear(6, 4, bias=bias).astype(np.float64)
    b.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6))
    g = rng.standard_normal((5, 4))
    tx = torch.tensor(x, requires_grad=True)
    ty = t(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(b(x), ty.detach().numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(b.backward(g), tx.grad.numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(b.weight.grad, t.weight.grad.numpy(), atol=1e-6, rtol=0)
    if bias:
        np.testing.assert_allclose(b.bias.grad, t.bias.grad.numpy(), atol=1e-6, rtol=0)


def test_backward_without_input_grad_gives_the_same_parameter_grads(rng):
    """Sequential.backward_params_only skips dL/dx of the first layer only."""
    def grads(need_input_grad):
        model = nn.Sequential(nn.Linear(6, 5, rng=0), nn.ReLU(), nn.Linear(5, 3, rng=1))
        x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
        g = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
        model(x)
        out = model.backward(g) if need_input_grad else model.backward_params_only(g)
        return out, {k: p.grad.copy() for k, p in model.named_parameters()}

    dx, full = grads(True)
    none, partial = grads(False)
    assert dx.shape == (4, 6) and none is None
    for k in full:
        np.testing.assert_array_equal(full[k], partial[k])
