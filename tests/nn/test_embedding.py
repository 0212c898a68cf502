"""Embedding: lookup, gradients added into the rows used (repeats summed), PyTorch parity,
a finite-difference check of the table's gradient, errors."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import numerical_vjp


def test_lookup_and_backward_add_into_the_rows_used():
    layer = nn.Embedding(5, 3, rng=0)
    ids = np.array([[1, 4, 1], [0, 1, 2]])
    y = layer(ids)
    assert y.shape == (2, 3, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y[0, 0], layer.weight.data[1])
    g = np.ones((2, 3, 3), dtype=np.float32)
    assert layer.backward(g) is None                   # ids have no gradient
    np.testing.assert_array_equal(layer.weight.grad[:, 0], [1, 3, 1, 0, 1])  # id 1 used 3 times


@pytest.mark.parametrize("shape", [(4,), (2, 5), (2, 3, 2)])
def test_pytorch_parity_and_finite_differences_float64(shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape))
    torch.manual_seed(0)
    tlayer = torch.nn.Embedding(6, 4).double()
    layer = nn.Embedding(6, 4).astype(np.float64)
    layer.load_state_dict({k: v.detach().numpy() for k, v in tlayer.state_dict().items()})
    ids = rng.integers(0, 6, shape)
    g = rng.standard_normal((*shape, 4))
    ty = tlayer(torch.tensor(ids))
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(layer(ids), ty.detach().numpy(), atol=1e-6, rtol=0)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, tlayer.weight.grad.numpy(), atol=1e-6, rtol=0)
    numeric = numerical_vjp(lambda: layer.forward(ids), layer.weight.data, g)
    np.testing.assert_allclose(layer.weight.grad, numeric, atol=1e-8, rtol=1e-6)


def test_feeds_a_recurrent_layer():
    """The usual start of a sequence model: ids -> vectors -> LSTM; the table learns."""
    model = nn.Sequential(nn.Embedding(7, 3, rng=0), nn.LSTM(3, 4, rng=1), nn.SelectStep())
    ids = np.random.default_rng(2).integers(0, 7, (2, 5))
    y = model(ids)
    model.backward_params_only(np.ones_like(y))
    assert y.shape == (2, 4) and np.abs(model[0].weight.grad).sum() > 0


@pytest.mark.parametrize("call, words, error", [
    (lambda: nn.Embedding(0, 3), "num_embeddings must be a positive int", ValueError),
    (lambda: nn.Embedding(4, 3)(np.zeros((2, 3))), "expected an integer array", TypeError),
    (lambda: nn.Embedding(4, 3)(np.array([1, 4])), "ids must be in [0, 4)", ValueError),
    (lambda: nn.Embedding(4, 3).backward(np.zeros((2, 3))), "before forward", RuntimeError),
])
def test_errors_name_the_problem(call, words, error):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)
