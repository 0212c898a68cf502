"""Normalize: the formula, every input layout, dtype, and its JSON form."""
from __future__ import annotations

import json

import numpy as np
import pytest

from barenet.data.transforms import Normalize
from barenet.errors import ConfigError

MEAN, STD = 0.1307, 0.3081


@pytest.fixture
def batch(rng):
    x = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    x[0, 0, 0], x[0, 0, 1] = 0, 255
    return x


def reference(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float64) / 255.0 - MEAN) / STD


@pytest.mark.parametrize("layout", ["BHW", "B1HW", "BD"])
@pytest.mark.parametrize("flatten", [True, False])
def test_formula_and_shapes(batch, layout, flatten):
    x = {"BHW": batch, "B1HW": batch[:, None], "BD": batch.reshape(5, 784)}[layout]
    out = Normalize(MEAN, STD, flatten)(x)
    assert out.dtype == np.float32
    assert out.shape == ((5, 784) if flatten else (5, 1, 28, 28))
    np.testing.assert_allclose(out.reshape(5, 784), reference(batch).reshape(5, 784),
                               rtol=1e-6, atol=1e-6)
    assert out.flat[0] == pytest.approx(-MEAN / STD, abs=1e-6)
    assert out.flat[1] == pytest.approx((1 - MEAN) / STD, abs=1e-6)


def test_non_square_flat_input():
    x = np.full((2, 10), 255, np.uint8)
    assert Normalize(0.0, 1.0, True)(x).shape == (2, 10)
    with pytest.raises(ValueError, match="cannot unflatten 10 pixels"):
        Normalize(0.0, 1.0, False)(x)


@pytest.mark.parametrize("x, error", [
    (np.zeros((2, 28, 28), np.float32), TypeError),
    (np.zeros((2, 3, 28, 28), np.uint8), ValueError),
    (np.zeros(784, np.uint8), ValueError),
])
def test_rejects_wrong_input(x, error):
    with pytest.raises(error, match="Normalize"):
        Normalize(MEAN, STD, True)(x)


def test_input_untouched_and_output_fresh(batch):
    before = batch.copy()
    norm = Normalize(MEAN, STD, True)
    a, b = norm(batch), norm(batch)
    np.testing.assert_array_equal(batch, before)
    assert a is not b and not np.shares_memory(a, b)


@pytest.mark.parametrize("flatten", [True, False])
def test_dict_round_trip_through_json(flatten):
    norm = Normalize(0.2860, 0.3530, flatten)
    d = json.loads(json.dumps(norm.to_dict()))
    assert d == {"name": "normalize", "mean": 0.2860, "std": 0.3530, "flatten": flatten}
    assert Normalize.from_dict(d) == norm


@pytest.mark.parametrize("d, words", [
    ([0.1, 0.3], "expected a dict"),
    ({"mean": 0.1, "std": 0.3}, "missing flatten"),
    ({"mean": 0.1, "std": 0.3, "flatten": True, "scale": 2}, "unknown keys scale"),
    ({"name": "standardize", "mean": 0.1, "std": 0.3, "flatten": True}, "unknown transform"),
    ({"mean": 0.1, "std": 0.0, "flatten": True}, "std must be positive"),
    ({"mean": 0.1, "std": -1, "flatten": True}, "std must be positive"),
    ({"mean": float("nan"), "std": 0.3, "flatten": True}, "mean must be a finite number"),
    ({"mean": "0.1", "std": 0.3, "flatten": True}, "mean must be a finite number"),
    ({"mean": 0.1, "std": 0.3, "flatten": "yes"}, "flatten must be true or false"),
    ({"mean": True, "std": 0.3, "flatten": True}, "mean must be"),
])
def test_from_dict_validation(d, words):
    with pytest.raises(ConfigError, match=words):
        Normalize.from_dict(d)
