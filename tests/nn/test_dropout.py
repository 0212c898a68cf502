"""Dropout: inverted scaling, eval identity, reproducible masks, fixed-mask gradient check."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_zeroes_a_fraction_p_and_scales_survivors(p):
    d = nn.Dropout(p, rng=0)
    x = np.ones((200, 500), dtype=np.float32)
    y = d(x)
    assert y.dtype == np.float32
    zero_fraction = np.mean(y == 0)
    assert abs(zero_fraction - p) < 0.01
    np.testing.assert_allclose(np.unique(y[y != 0]), [1 / (1 - p)], rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.03  # expectation preserved


def test_backward_uses_the_forward_mask():
    d = nn.Dropout(0.5, rng=1)
    x = np.random.default_rng(0).standard_normal((6, 7))
    y = d(x)
    g = np.ones_like(x)
    dx = d.backward(g)
    np.testing.assert_array_equal(dx == 0, y == 0)
    np.testing.assert_allclose(dx[dx != 0], 2.0)
    np.testing.assert_array_equal(d.backward(g), dx)  # same mask until the next forward


def test_eval_mode_is_the_identity_without_copy():
    d = nn.Dropout(0.5, rng=0).eval()
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    assert d(x) is x
    g = np.ones_like(x)
    assert d.backward(g) is g


def test_mode_follows_the_parent_model():
    m = nn.Sequential(nn.Identity(), nn.Dropout(0.9, rng=0))
    x = np.ones((10, 10))
    assert np.any(m(x) == 0)
    m.eval()
    np.testing.assert_array_equal(m(x), x)


def test_same_seed_same_masks_and_fresh_mask_each_call():
    x = np.ones((8, 8))
    a, b = nn.Dropout(0.5, rng=7), nn.Dropout(0.5, rng=7)
    ya1, ya2 = a(x), a(x)
    yb1, yb2 = b(x), b(x)
    np.testing.assert_array_equal(ya1, yb1)
    np.testing.assert_array_equal(ya2, yb2)
    assert not np.array_equal(ya1, ya2)
    gen = np.random.default_rng(3)
    c = nn.Dropout(0.5, rng=gen)
    assert c.rng is gen


def test_p_zero_and_one():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    d = nn.Dropout(1.0)
    assert not d(x).any() and not d.backward(np.ones_like(x)).any()


@pytest.mark.parametrize("p", [-0.1, 1.5, "half", True])
def test_invalid_p(p):
    with pytest.raises(ValueError, match="p must be a probability"):
        nn.Dropout(p)


@pytest.mark.parametrize("shape", [(5, 6), (2, 3, 4, 4)])
@pytest.mark.parametrize("p", [0.2, 0.5])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_with_a_fixed_mask(shape, p, training):
    # check_module rewinds the layer's Generator before every forward pass: one fixed mask
    d = nn.Dropout(p, rng=11).train(training)
    x = np.random.default_rng(2).standard_normal(shape)
    result = check_module(d, x, rng=3)
    assert result.ok, str(result)


def test_dropout_inside_a_network_gradcheck():
    m = nn.Sequential(nn.Linear(4, 6, rng=0), nn.Tanh(), nn.Dropout(0.5, rng=1),
                      nn.Linear(6, 2, rng=2)).astype(np.float64)
    result = check_module(m, np.random.default_rng(0).standard_normal((5, 4)))
    assert result.ok, str(result)
