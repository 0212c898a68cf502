"""SelectStep and MeanOverTime, the heads of sequence classifiers: gradient checks after a
recurrent layer, values, errors."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module


@pytest.mark.parametrize("head", [nn.SelectStep(), nn.SelectStep(0), nn.SelectStep(2),
                                  nn.MeanOverTime()], ids=repr)
def test_gradcheck_after_a_recurrent_layer(head):
    model = nn.Sequential(nn.GRU(3, 4, rng=0), head, nn.Linear(4, 2, rng=1)).astype(np.float64)
    result = check_module(model, np.random.default_rng(2).standard_normal((2, 5, 3)), rng=3)
    assert result.ok and "0.weight_hh_l0" in result.errors, str(result)


def test_values():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(nn.SelectStep()(x), x[:, -1])
    np.testing.assert_array_equal(nn.SelectStep(0)(x), x[:, 0])
    mean = nn.MeanOverTime()
    np.testing.assert_array_equal(mean(x), x.mean(axis=1))
    dx = mean.backward(np.ones((2, 4), dtype=np.float32))
    assert dx.dtype == np.float32 and np.allclose(dx, 1 / 3)


@pytest.mark.parametrize("call, words", [
    (lambda: nn.SelectStep(3)(np.zeros((2, 3, 4))), "index 3 is out of range for 3 steps"),
    (lambda: nn.MeanOverTime()(np.zeros((2, 3))), "expected input of shape (N, T, F)"),
    (lambda: nn.SelectStep(1.5), "index must be an int"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert words in str(info.value)
