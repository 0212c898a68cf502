"""GELU (exact and tanh) and the erf behind it: accuracy against math.erf, PyTorch parity,
gradient checks after another layer, extreme inputs, float32."""
import math

import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module
from barenet.nn.special import erf, erfc_nonnegative, normal_cdf


def test_erf_matches_math_erf_to_double_precision():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, 1e-300, -1e-10, 30.0, -30.0]])
    reference = np.array([math.erf(v) for v in x])
    assert np.abs(erf(x) - reference).max() < 1e-15
    z = np.linspace(0, 26, 5001)
    tail = np.array([math.erfc(v) for v in z])
    assert (np.abs(erfc_nonnegative(z) - tail) / tail).max() < 1e-12   # relative, deep tail
    x32 = x.astype(np.float32)
    assert erf(x32).dtype == np.float32
    assert np.abs(erf(x32) - [math.erf(v) for v in x32.astype(np.float64)]).max() < 5e-7  # 4 ulp


def test_normal_cdf_keeps_the_left_tail():
    x = np.array([-37.0, -20.0, -5.0, 0.0, 5.0])
    expected = [0.5 * math.erfc(-v / math.sqrt(2)) for v in x]
    np.testing.assert_allclose(normal_cdf(x), expected, rtol=1e-13)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4)])
def test_pytorch_parity_float64(approximate, shape, torch_compare):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape) * 4
    x.flat[:3] = [-40.0, 0.0, 40.0]
    diffs = torch_compare(nn.GELU(approximate), torch.nn.GELU(approximate), x,
                          rng.standard_normal(shape))
    assert max(diffs.values()) < 1e-6, diffs


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gradcheck_after_another_layer(approximate):
    model = nn.Sequential(nn.Linear(4, 6, rng=0), nn.GELU(approximate)).astype(np.float64)
    x = np.random.default_rng(1).standard_normal((5, 4)) * 2
    result = check_module(model, x, rng=2)
    assert result.ok and {"input", "0.weight", "0.bias"} <= set(result.errors), str(result)


def test_a_wrong_derivative_is_caught(monkeypatch):
    from barenet.nn import activations

    monkeypatch.setattr(activations, "normal_pdf", lambda x: 0 * x)  # forgets x phi(x)
    result = check_module(nn.GELU(), np.random.default_rng(3).standard_normal((3, 4)))
    assert not result.ok


def test_values_dtype_and_extremes():
    x = np.array([-1e4, -3.0, 0.0, 1.0, 1e4], dtype=np.float32)
    for approximate in ("none", "tanh"):
        layer = nn.GELU(approximate)
        y = layer(x)
        assert y.dtype == np.float32 and np.isfinite(y).all()
        assert y[0] == 0 and y[2] == 0 and y[-1] == 1e4
        assert layer.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(nn.GELU()(np.array([1.0])), [0.8413447460685429], rtol=1e-15)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")
