"""Initialisers: fans (dense and conv shapes), gains, sample statistics, reproducibility."""
import math

import numpy as np
import pytest

from barenet import nn
from barenet.nn import init

SHAPE = (300, 400)  # 120,000 samples: a sample std is within ~0.5% of the true one


@pytest.mark.parametrize("shape, expected", [
    ((10, 20), (20, 10)), ((16, 3, 5, 5), (75, 400)), ((8, 4, 3), (12, 24)), ((1, 1), (1, 1))])
def test_fans(shape, expected):
    assert init.fans(shape) == expected


def test_fans_needs_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fans((5,))


@pytest.mark.parametrize("name, param, expected", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / 1.0001)),
    ("leaky_relu", math.sqrt(5), math.sqrt(2 / 6)), ("selu", None, 0.75), ("ReLU", None, math.sqrt(2))])
def test_calculate_gain(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected)


def test_calculate_gain_unknown():
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn, kwargs, std", [
    (init.xavier_uniform, {}, math.sqrt(2 / 700)),
    (init.xavier_normal, {}, math.sqrt(2 / 700)),
    (init.xavier_uniform, {"gain": 5 / 3}, 5 / 3 * math.sqrt(2 / 700)),
    (init.kaiming_normal, {"nonlinearity": "relu"}, math.sqrt(2 / 400)),
    (init.kaiming_uniform, {"nonlinearity": "relu"}, math.sqrt(2 / 400)),
    (init.kaiming_normal, {"nonlinearity": "relu", "mode": "fan_out"}, math.sqrt(2 / 300)),
    (init.kaiming_uniform, {"a": math.sqrt(5)}, 1 / math.sqrt(3 * 400)),
])
def test_sample_std_and_mean(fn, kwargs, std):
    w = fn(SHAPE, rng=0, **kwargs)
    assert w.shape == SHAPE and w.dtype == np.float32
    assert abs(w.std() / std - 1) < 0.02
    assert abs(w.mean()) < 0.02 * std


@pytest.mark.parametrize("fn, bound", [
    (init.xavier_uniform, math.sqrt(6 / 700)),
    (init.kaiming_uniform, math.sqrt(6 / 400)),
])
def test_uniform_bounds(fn, bound):
    kwargs = {"nonlinearity": "relu"} if fn is init.kaiming_uniform else {}
    w = fn(SHAPE, rng=1, **kwargs)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


def test_kaiming_uniform_sqrt5_is_pytorch_default_for_conv():
    w = init.kaiming_uniform((16, 3, 5, 5), a=math.sqrt(5), rng=0)
    assert np.abs(w).max() <= 1 / math.sqrt(75)


def test_conv_shape_statistics():
    w = init.kaiming_normal((64, 32, 3, 3), nonlinearity="relu", rng=2)
    assert abs(w.std() / math.sqrt(2 / (32 * 9)) - 1) < 0.02


@pytest.mark.parametrize("fn", [init.xavier_uniform, init.xavier_normal, init.kaiming_uniform,
                                init.kaiming_normal])
def test_reproducible_from_seed_or_generator(fn):
    a = fn((20, 30), rng=123)
    b = fn((20, 30), rng=np.random.default_rng(123))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, fn((20, 30), rng=124))
    assert fn((20, 30), rng=1, dtype=np.float64).dtype == np.float64


def test_as_generator():
    g = np.random.default_rng(0)
    assert init.as_generator(g) is g
    assert isinstance(init.as_generator(None), np.random.Generator)
    assert init.as_generator(5).random() == np.random.default_rng(5).random()
    expected = np.random.default_rng(np.random.SeedSequence(7)).random()
    assert init.as_generator(np.random.SeedSequence(7)).random() == expected


@pytest.mark.parametrize("bad", ["seed", 1.5, True, [1, 2]])
def test_as_generator_names_the_caller_on_bad_input(bad):
    with pytest.raises(TypeError, match="^Thing: rng must be a numpy Generator, an int seed"):
        init.as_generator(bad, "Thing")


def test_find_generators_names_each_generator_once():
    g = np.random.default_rng(0)
    holder = type("Holder", (), {})()
    holder.rng, holder.same = g, g
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Dropout(0.5, rng=1))
    found = init.find_generators({"aug": holder, "model": model, "none": None})
    assert list(found) == ["aug.rng", "model.1.rng"] and found["aug.rng"] is g


def test_bad_mode():
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal((3, 3), mode="fan_avg")
