"""DataLoader: coverage per epoch, drop_last, reproducible shuffles, exact resume; random_split."""
from __future__ import annotations

import json

import numpy as np
import pytest

from barenet.data.loader import DataLoader, random_split
from barenet.data.transforms import Normalize
from barenet.errors import CheckpointError, ConfigError

N = 103


@pytest.fixture
def data():
    images = np.arange(N * 4, dtype=np.int64).reshape(N, 2, 2).astype(np.uint8)
    return images, np.arange(N)


def epoch_labels(loader) -> list[np.ndarray]:
    return [y.copy() for _, y in loader]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size, drop_last, n_batches, last", [
    (10, False, 11, 3), (10, True, 10, 10), (103, False, 1, 103), (200, False, 1, 103),
    (200, True, 0, None), (1, False, 103, 1)])
def test_batches_cover_every_sample_once(data, shuffle, batch_size, drop_last, n_batches, last):
    loader = DataLoader(*data, batch_size=batch_size, shuffle=shuffle, rng=0, drop_last=drop_last)
    batches = epoch_labels(loader)
    assert len(batches) == len(loader) == n_batches
    if n_batches:
        assert all(len(b) == batch_size for b in batches[:-1]) and len(batches[-1]) == last
    seen = np.concatenate(batches) if batches else np.array([], dtype=int)
    assert len(np.unique(seen)) == len(seen)
    if not drop_last:
        assert sorted(seen.tolist()) == list(range(N))
    if not shuffle:
        assert seen.tolist() == list(range(len(seen)))


def test_images_follow_their_labels(data):
    images, labels = data
    for x, y in DataLoader(images, labels, batch_size=16, shuffle=True, rng=1):
        np.testing.assert_array_equal(x, images[y])
        assert x.dtype == np.uint8


def test_shuffle_reproducible_and_new_each_epoch(data):
    a = DataLoader(*data, batch_size=16, shuffle=True, rng=42)
    b = DataLoader(*data, batch_size=16, shuffle=True, rng=np.random.default_rng(42))
    e1, e2 = np.concatenate(epoch_labels(a)), np.concatenate(epoch_labels(a))
    assert not np.array_equal(e1, e2)
    np.testing.assert_array_equal(e1, np.concatenate(epoch_labels(b)))
    np.testing.assert_array_equal(e2, np.concatenate(epoch_labels(b)))
    assert not np.array_equal(e1, np.arange(N))


def test_resume_from_state_dict_gives_the_same_following_batches(data):
    loader = DataLoader(*data, batch_size=16, shuffle=True, rng=7)
    epoch_labels(loader)
    state = json.loads(json.dumps(loader.state_dict()))  # must survive JSON
    expected = [epoch_labels(loader) for _ in range(2)]
    resumed = DataLoader(*data, batch_size=16, shuffle=True, rng=999)
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    got = [epoch_labels(resumed) for _ in range(2)]
    for e, g in zip(expected, got):
        for be, bg in zip(e, g):
            np.testing.assert_array_equal(be, bg)


def test_permutation_is_drawn_when_the_epoch_starts(data):
    loader = DataLoader(*data, batch_size=16, shuffle=True, rng=3)
    before = loader.state_dict()
    it = iter(loader)
    assert loader.state_dict() != before
    next(it)


def test_transform_gives_float32_batches(data):
    images, labels = data
    norm = Normalize(0.5, 0.25, flatten=True)
    loader = DataLoader(images, labels, batch_size=32, transform=norm)
    x, y = next(iter(loader))
    assert x.dtype == np.float32 and x.shape == (32, 4) and y.shape == (32,)
    np.testing.assert_allclose(x, (images[:32].reshape(32, 4) / 255 - 0.5) / 0.25, atol=1e-5)
    assert images.dtype == np.uint8  # the stored data is untouched


@pytest.mark.parametrize("kwargs, error, words", [
    ({"batch_size": 0}, ConfigError, "batch_size must be a positive integer"),
    ({"batch_size": 2.5}, ConfigError, "batch_size"),
    ({"batch_size": True}, ConfigError, "batch_size"),
    ({"rng": "seed"}, TypeError, "rng must be"),
    ({"transform": 5}, TypeError, "transform must be callable"),
])
def test_argument_validation(data, kwargs, error, words):
    with pytest.raises(error, match=words):
        DataLoader(*data, **kwargs)


def test_length_mismatch_and_bad_images(data):
    images, labels = data
    with pytest.raises(ValueError, match="103 images but labels of shape"):
        DataLoader(images, labels[:-1])
    with pytest.raises(TypeError, match="NumPy array"):
        DataLoader(images.tolist(), labels)


def test_load_state_dict_validation(data):
    loader = DataLoader(*data, shuffle=True, rng=0)
    with pytest.raises(CheckpointError, match="expected a dict"):
        loader.load_state_dict({"epoch": 1})
    state = loader.state_dict()
    state["rng"]["bit_generator"] = "MT19937"
    with pytest.raises(CheckpointError, match="'MT19937', expected 'PCG64'"):
        loader.load_state_dict(state)
    state = loader.state_dict()
    state["epoch"] = -1
    with pytest.raises(CheckpointError, match="epoch"):
        loader.load_state_dict(state)


def test_empty_dataset():
    loader = DataLoader(np.zeros((0, 28, 28), np.uint8), np.zeros(0, int), shuffle=True, rng=0)
    assert len(loader) == 0 and list(loader) == []


@pytest.mark.parametrize("n, frac, n_val", [(100, 0.1, 10), (60000, 1 / 12, 5000), (7, 0.0, 0),
                                            (3, 0.5, 2), (0, 0.2, 0)])
def test_random_split(n, frac, n_val):
    train, val = random_split(n, frac, np.random.default_rng(0))
    assert len(val) == n_val and len(train) == n - n_val
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(n))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    assert train.dtype == np.int64
    t2, v2 = random_split(n, frac, 0)
    t3, v3 = random_split(n, frac, 0)
    np.testing.assert_array_equal(t2, t3) and np.testing.assert_array_equal(v2, v3)


@pytest.mark.parametrize("n, frac", [(10, 1.0), (10, -0.1), (10, "x"), (-1, 0.1), (2.5, 0.1)])
def test_random_split_validation(n, frac):
    with pytest.raises(ConfigError):
        random_split(n, frac, 0)


def test_indices_iterate_a_subset_without_copying_it():
    """DataLoader(indices=...) yields exactly what a loader over images[indices] yields."""
    images = np.arange(50 * 4, dtype=np.uint8).reshape(50, 2, 2)
    labels = np.arange(50) % 10
    idx = np.array([3, 7, 8, 20, 21, 33, 49, 0, 12])
    for shuffle in (False, True):
        sub = DataLoader(images[idx], labels[idx], batch_size=4, shuffle=shuffle, rng=5)
        view = DataLoader(images, labels, batch_size=4, shuffle=shuffle, rng=5, indices=idx)
        assert len(view) == len(sub) == 3 and view.num_samples == 9
        for (xa, ya), (xb, yb) in zip(sub, view):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    with pytest.raises(ValueError, match="indices"):
        DataLoader(images, labels, indices=np.array([50]))
