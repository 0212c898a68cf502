"""The delicate numerics at their extremes: logits of +-1e4, -inf entries, dtype kept."""
import numpy as np
import pytest

from barenet.nn import functional as F

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_matches_naive_on_moderate_values(dtype):
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(dtype)
    expected = np.log(np.exp(x.astype(np.float64)).sum(axis=1))
    out = F.logsumexp(x, axis=1)
    assert out.dtype == dtype and out.shape == (4,)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert F.logsumexp(x, axis=0, keepdims=True).shape == (1, 6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_huge_values(dtype):
    x = np.array([[1e4, 1e4], [-1e4, -1e4], [1e4, -1e4]], dtype=dtype)
    out = F.logsumexp(x)
    np.testing.assert_allclose(out, [1e4 + np.log(2), -1e4 + np.log(2), 1e4], rtol=1e-6)


@pytest.mark.filterwarnings("error")
def test_logsumexp_with_infinite_entries():
    x = np.array([[0.0, -np.inf], [-np.inf, -np.inf], [np.inf, 0.0]])
    out = F.logsumexp(x)
    assert out[0] == 0.0 and out[1] == -np.inf and out[2] == np.inf
    ls = F.log_softmax(x[:1])
    assert ls[0, 0] == 0.0 and ls[0, 1] == -np.inf
    np.testing.assert_array_equal(F.softmax(x[:1]), [[1.0, 0.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_log_softmax_extremes(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    p = F.softmax(x)
    lp = F.log_softmax(x)
    assert p.dtype == dtype and lp.dtype == dtype
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], 1 / 3, rtol=1e-6)
    np.testing.assert_allclose(lp[0], [0.0, -1e4, -2e4], rtol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_softmax_is_shift_invariant_and_axis_aware():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(F.softmax(x), F.softmax(x + 1000.0), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(x, axis=0).sum(axis=0), 1.0)
    np.testing.assert_allclose(np.exp(F.log_softmax(x, axis=0)), F.softmax(x, axis=0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_extremes_exact(dtype):
    x = np.array([1e4, -1e4, 0.0, 800.0, -800.0], dtype=dtype)
    s = F.sigmoid(x)
    assert s.dtype == dtype
    np.testing.assert_array_equal(s, [1.0, 0.0, 0.5, 1.0, 0.0])


def test_sigmoid_matches_formula():
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(F.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(F.sigmoid(x) + F.sigmoid(-x), 1.0, rtol=1e-15)


def test_log_sigmoid_and_softplus_extremes():
    x = np.array([1e4, -1e4, 0.0])
    np.testing.assert_allclose(F.softplus(x), [1e4, 0.0, np.log(2)])
    np.testing.assert_allclose(F.log_sigmoid(x), [0.0, -1e4, -np.log(2)])
    y = np.linspace(-20, 20, 41)
    np.testing.assert_allclose(F.softplus(y), np.log1p(np.exp(y)), rtol=1e-12)
    np.testing.assert_allclose(F.log_sigmoid(y), -np.log1p(np.exp(-y)), rtol=1e-12)
    assert F.softplus(x.astype(np.float32)).dtype == np.float32


def test_one_hot():
    out = F.one_hot(np.array([2, 0, 1]), 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert F.one_hot(np.array([[1, 2]]), 4, dtype=np.float64).shape == (1, 2, 4)


def test_pytorch_parity_float64():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((5, 7)) * 30
    t = torch.tensor(x)
    np.testing.assert_allclose(F.logsumexp(x), torch.logsumexp(t, 1).numpy(), atol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x), torch.log_softmax(t, 1).numpy(), atol=1e-12)
    np.testing.assert_allclose(F.softmax(x), torch.softmax(t, 1).numpy(), atol=1e-12)
    np.testing.assert_allclose(F.sigmoid(x), torch.sigmoid(t).numpy(), atol=1e-12)
    np.testing.assert_allclose(F.softplus(x), torch.nn.functional.softplus(t).numpy(),
                               atol=1e-12)
