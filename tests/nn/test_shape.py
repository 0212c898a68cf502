"""Flatten and Identity: shapes, views, backward reshapes, gradient checks, PyTorch shapes."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module


@pytest.mark.parametrize("shape, start, end", [
    ((2, 3, 4, 5), 1, -1), ((2, 3, 4, 5), 2, -1), ((2, 3, 4, 5), 1, 2), ((2, 3, 4, 5), 0, -1),
    ((2, 3), 1, -1), ((2, 3, 4), -2, -1)])
def test_flatten_shapes_match_pytorch_and_backward_restores(shape, start, end):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    f = nn.Flatten(start, end)
    y = f(x)
    assert y.shape == np.empty(shape).reshape(
        shape[:start % len(shape)] + (-1,) + shape[end % len(shape) + 1:]).shape
    assert np.shares_memory(x, y)  # a view, no copy
    g = np.ones_like(y)
    dx = f.backward(g)
    assert dx.shape == shape and dx.dtype == np.float32
    torch = pytest.importorskip("torch")
    assert tuple(torch.nn.Flatten(start, end)(torch.from_numpy(x)).shape) == y.shape


def test_flatten_4d_to_2d_values():
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    y = nn.Flatten()(x)
    assert y.shape == (2, 784)
    np.testing.assert_array_equal(y[1], x[1].ravel())


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 2)])
def test_gradchecks(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    for layer in (nn.Flatten(), nn.Identity()):
        result = check_module(layer, x, rng=1)
        assert result.ok, str(result)


def test_flatten_then_linear_network_gradcheck():
    m = nn.Sequential(nn.Flatten(), nn.Linear(12, 3, rng=0)).astype(np.float64)
    result = check_module(m, np.random.default_rng(1).standard_normal((2, 3, 2, 2)))
    assert result.ok, str(result)


def test_flatten_invalid_dims():
    with pytest.raises(TypeError, match="start_dim must be an int"):
        nn.Flatten(1.5)
    with pytest.raises(ValueError, match="cannot flatten dimensions 3..1"):
        nn.Flatten(3, 1)(np.zeros((2, 3, 4, 5)))


def test_identity_returns_its_arguments():
    x = np.ones((2, 3))
    ident = nn.Identity()
    assert ident(x) is x
    g = np.zeros((2, 3))
    assert ident.backward(g) is g
    assert repr(ident) == "Identity()"
