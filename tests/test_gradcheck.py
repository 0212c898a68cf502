"""The gradient checker itself: it passes correct gradients and catches wrong ones."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import (
    GradCheckResult,
    check_loss,
    check_module,
    numerical_gradient,
    numerical_vjp,
    rel_error,
)


class WrongSign(nn.Linear):
    def backward(self, g):
        return -super().backward(g)


class ForgetsBiasGrad(nn.Linear):
    def backward(self, g):
        dx = super().backward(g)
        self.bias.grad[...] = 0
        return dx


class ScaledWeightGrad(nn.Linear):
    def backward(self, g):
        before = self.weight.grad.copy()
        dx = super().backward(g)
        self.weight.grad[...] = before + 1.001 * (self.weight.grad - before)
        return dx


class TransposedReLU(nn.ReLU):
    """Uses the mask of the wrong sign: a subtle bug."""

    def backward(self, g):
        return g * ~self._mask


class BatchNormIgnoringMeanTerm(nn.BatchNorm1d):
    """Treats the batch statistics as constants in training mode: a classic mistake."""

    def backward(self, g):
        xhat, inv_std, *_ = self._cache
        self.weight.grad += (g * xhat).sum(axis=0)
        self.bias.grad += g.sum(axis=0)
        return g * self.weight.data * inv_std


class CrossEntropyWithoutMean(nn.CrossEntropyLoss):
    def backward(self):
        return super().backward() * self._cache[0].shape[0]


def x_for(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_passes_on_correct_layers():
    result = check_module(nn.Linear(4, 3, rng=0).astype(np.float64), x_for((5, 4)))
    assert result.ok and result.max_error < 1e-8
    assert list(result.errors) == ["input", "weight", "bias"]
    assert str(result).startswith("gradcheck passed")


@pytest.mark.parametrize("layer, broken", [
    (WrongSign(4, 3, rng=0), "input"),
    (ForgetsBiasGrad(4, 3, rng=0), "bias"),
    (ScaledWeightGrad(4, 3, rng=0), "weight"),
    (TransposedReLU(), "input"),
    (BatchNormIgnoringMeanTerm(4), "input"),
])
def test_fails_on_a_wrong_backward(layer, broken):
    layer.astype(np.float64)
    result = check_module(layer, x_for((5, 4)))
    assert not result.ok
    assert result.errors[broken] > 1e-4
    assert str(result).startswith("gradcheck FAILED")


def test_check_loss_fails_on_a_wrong_loss_gradient():
    x, y = x_for((6, 4)), np.array([0, 1, 2, 3, 0, 1])
    assert check_loss(nn.CrossEntropyLoss(), x, y).ok
    result = check_loss(CrossEntropyWithoutMean(), x, y)
    assert not result.ok and result.max_error > 0.5


def test_check_input_false_skips_the_input():
    result = check_module(nn.Linear(2, 2, rng=0).astype(np.float64), x_for((3, 2)),
                          check_input=False)
    assert "input" not in result.errors and result.ok


def test_restores_running_statistics_and_replays_dropout_masks():
    bn = nn.BatchNorm1d(3).astype(np.float64)
    before = bn.running_mean.copy()
    assert check_module(bn, x_for((4, 3)) + 5).ok
    np.testing.assert_array_equal(bn.running_mean, before)
    assert int(bn.num_batches_tracked) == 0
    d = nn.Dropout(0.5, rng=0)
    assert check_module(d, x_for((6, 6))).ok


def test_numerical_gradient_of_known_functions():
    x = x_for((3, 4))
    for order in (2, 4):
        g = numerical_gradient(lambda: float(np.sum(x ** 3)), x, order=order)
        np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-7, atol=1e-8)
    np.testing.assert_array_equal(x, x_for((3, 4)))  # restored after perturbation
    up = x_for((3, 4), 1)
    np.testing.assert_allclose(numerical_vjp(lambda: np.sin(x), x, up), np.cos(x) * up,
                               rtol=1e-7, atol=1e-9)


def test_numerical_gradient_rejects_bad_arguments():
    x = x_for((4, 4))[::2, ::2]  # not expressible as a flat view
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: 0.0, x)
    with pytest.raises(ValueError, match="contiguous"):
        numerical_vjp(lambda: x, x, np.ones((2, 2)))
    with pytest.raises(ValueError, match="order must be 2 or 4"):
        numerical_gradient(lambda: 0.0, x_for((2,)), order=3)


def test_rel_error():
    a = np.array([1.0, -2.0, 0.0])
    assert rel_error(a, a) == 0.0
    assert rel_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    assert rel_error([0.0], [1e-12]) == pytest.approx(1e-4)  # below the floor: absolute
    assert rel_error([0.0], [1e-12], floor=1e-3) == pytest.approx(1e-9)
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_result_reports_the_worst_error():
    r = GradCheckResult({"input": 1e-9, "weight": 2e-5}, tolerance=1e-6)
    assert r.max_error == 2e-5 and not r.ok
    assert "weight: 2.00e-05" in str(r)
    assert GradCheckResult().ok


def test_numerical_gradient_perturbs_a_column_major_array_in_place():
    """A Fortran-ordered x is perturbed through a view, and the gradient lines up with x."""
    x = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    grad = numerical_gradient(lambda: float(np.sum(weights * x)), x)
    assert np.allclose(grad, weights, atol=1e-6)
    assert np.array_equal(x, np.arange(6).reshape(2, 3))  # restored
