"""LayerNorm: PyTorch parity over shapes and options, gradient checks after another layer, a
wrong gradient caught, statistics per row, dtype."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module

CASES = [  # (input shape, normalized_shape, elementwise_affine, bias)
    ((4, 6), 6, True, True), ((2, 5, 3), 3, True, False), ((2, 3, 4, 5), (4, 5), True, True),
    ((3, 7), (7,), False, True), ((1, 1), 1, True, True), ((2, 3, 2, 2), (3, 2, 2), True, True),
]


@pytest.mark.parametrize("shape, normalized, affine, bias", CASES)
def test_pytorch_parity_float64(shape, normalized, affine, bias, torch_compare):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tlayer = torch.nn.LayerNorm(normalized, eps=1e-4, elementwise_affine=affine,
                                bias=bias).double()
    with torch.no_grad():
        for p in tlayer.parameters():
            p.copy_(torch.randn_like(p))
    layer = nn.LayerNorm(normalized, eps=1e-4, elementwise_affine=affine,
                         bias=bias).astype(np.float64)
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape) * 3 + 1
    diffs = torch_compare(layer, tlayer, x, rng.standard_normal(shape))
    assert max(diffs.values()) < 1e-6, diffs


@pytest.mark.parametrize("shape, normalized, affine, bias", CASES)
def test_gradcheck_after_another_layer(shape, normalized, affine, bias):
    rng = np.random.default_rng(1)
    layer = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias)
    model = nn.Sequential(nn.LeakyReLU(0.3), layer).astype(np.float64)
    for p in model.parameters():
        p.data = rng.standard_normal(p.shape)
    result = check_module(model, rng.standard_normal(shape), rng=2)
    assert result.ok, str(result)


def test_gradcheck_after_a_linear_layer():
    model = nn.Sequential(nn.Linear(5, 4, rng=0), nn.LayerNorm(4)).astype(np.float64)
    model[1].weight.data = np.array([0.5, -1.0, 2.0, 1.5])
    result = check_module(model, np.random.default_rng(3).standard_normal((3, 5)), rng=4)
    assert result.ok and set(result.errors) == {"input", "0.weight", "0.bias", "1.weight",
                                                "1.bias"}, str(result)


def test_a_wrong_gradient_is_caught(monkeypatch):
    layer = nn.LayerNorm(4).astype(np.float64)
    right = layer.backward
    monkeypatch.setattr(layer, "backward", lambda g: right(g) + 1e-3 * g)  # a stray term
    result = check_module(layer, np.random.default_rng(0).standard_normal((3, 4)))
    assert not result.ok and result.errors["input"] > 1e-4


def test_each_row_is_normalised_on_its_own_and_float32_is_kept():
    x = np.random.default_rng(0).standard_normal((3, 2, 8)).astype(np.float32) * 5 + 2
    layer = nn.LayerNorm(8)
    y = layer(x)
    assert y.dtype == np.float32 and layer.weight.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=-1), 1, atol=1e-3)
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(layer(x[:1]), y[:1], rtol=1e-6)  # no batch statistics


@pytest.mark.parametrize("call, words", [
    (lambda: nn.LayerNorm(0), "normalized_shape must be"),
    (lambda: nn.LayerNorm(4, eps=0), "eps must be positive"),
    (lambda: nn.LayerNorm((2, 3))(np.zeros((4, 3, 2))), "expected input of shape (N, *, 2, 3)"),
    (lambda: nn.LayerNorm(3).backward(np.zeros((2, 3))), "backward called before forward"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises((ValueError, RuntimeError)) as info:
        call()
    assert words in str(info.value)
