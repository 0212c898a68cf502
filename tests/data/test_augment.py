"""RandomAffine: identity, reproducibility, resumable state, label-preserving, validation."""
import json

import numpy as np
import pytest

from barenet.data.augment import RandomAffine


def digits(rng, b=16):
    """Blobs of ink inside the central 20x20 box, like MNIST digits."""
    x = np.zeros((b, 28, 28), dtype=np.uint8)
    x[:, 8:20, 10:18] = rng.integers(100, 256, (b, 12, 8))
    x[:, 6:22, 12:15] = 255
    return x


def test_zero_ranges_give_back_the_input_exactly(rng):
    x = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    out = RandomAffine(0, 0, 0, rng=0)(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_shapes_and_dtype(rng):
    for shape in [(1, 28, 28), (7, 28, 28), (3, 20, 31), (0, 28, 28)]:
        out = RandomAffine(rng=0, elastic_alpha=1.0)(np.zeros(shape, dtype=np.uint8))
        assert out.shape == shape and out.dtype == np.uint8


def test_same_seed_same_output_and_different_seeds_differ(rng):
    x = digits(rng)
    a = RandomAffine(rng=3)(x)
    np.testing.assert_array_equal(a, RandomAffine(rng=3)(x))
    assert not np.array_equal(a, RandomAffine(rng=4)(x))
    assert not np.array_equal(a, x)


def test_state_dict_resumes_the_same_draws(rng):
    x = digits(rng)
    aug = RandomAffine(rng=1, elastic_alpha=2.0)
    aug(x)
    state = json.loads(json.dumps(aug.state_dict()))  # JSON-able
    expected = aug(x)
    other = RandomAffine(rng=99, elastic_alpha=2.0)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(x), expected)
    with pytest.raises(ValueError, match="RandomAffine.load_state_dict"):
        other.load_state_dict({"nope": 1})


def test_shift_only_moves_pixels_by_whole_steps_within_range(rng):
    x = digits(rng, 32)
    out = RandomAffine(max_rotation=0, max_shift=3, max_scale=0, rng=0)(x)
    mass_in = x.astype(float).sum(axis=(1, 2))
    np.testing.assert_allclose(out.astype(float).sum(axis=(1, 2)), mass_in, rtol=0.02)
    cy = (out * np.arange(28)[None, :, None]).sum(axis=(1, 2)) / out.sum(axis=(1, 2))
    cy0 = (x * np.arange(28)[None, :, None]).sum(axis=(1, 2)) / x.sum(axis=(1, 2))
    assert np.all(np.abs(cy - cy0) <= 3.0 + 1e-6)
    assert np.abs(cy - cy0).max() > 0.5


@pytest.mark.parametrize("settings, low, high", [
    (dict(), 0.75, 1.3),  # scale 0.9..1.1 changes the area by 0.81..1.21
    (dict(elastic_alpha=1.0, elastic_sigma=4.0), 0.5, 1.8),  # local stretching on top
])
def test_label_preserving_ink_stays_and_shape_is_close(rng, settings, low, high):
    x = digits(rng, 64)
    out = RandomAffine(rng=0, **settings)(x)
    ratio = out.astype(float).sum(axis=(1, 2)) / x.astype(float).sum(axis=(1, 2))
    assert np.all((ratio > low) & (ratio < high))
    # Still mostly overlapping the original strokes: small moves, not a different picture.
    inter = np.minimum(out > 64, x > 64).sum(axis=(1, 2))
    assert np.median(inter / (x > 64).sum(axis=(1, 2))) > 0.5


def test_rotation_by_a_fixed_angle_is_a_rotation():
    x = np.zeros((1, 28, 28), dtype=np.uint8)
    x[0, 4:10, 13:15] = 255  # a bar above the centre
    aug = RandomAffine(max_rotation=90, max_shift=0, max_scale=0, rng=0)
    u = np.random.default_rng(0).uniform(-1, 1, size=(1, 4))[0, 0]
    out = aug(x)
    ys, xs = np.nonzero(out[0] > 128)
    angle = np.degrees(np.arctan2(xs.mean() - 13.5, 13.5 - ys.mean()))
    assert angle == pytest.approx(90 * u, abs=6)  # rows point down: positive turns clockwise


@pytest.mark.parametrize("images", [
    np.zeros((2, 28, 28), dtype=np.float32), np.zeros((28, 28), dtype=np.uint8), [[1]]])
def test_bad_batches_are_rejected(images):
    with pytest.raises(ValueError, match="RandomAffine: expected a uint8 batch"):
        RandomAffine(rng=0)(images)


@pytest.mark.parametrize("kwargs", [dict(max_rotation=-1), dict(max_scale=1.0),
                                    dict(max_shift=float("nan")), dict(max_rotation="10"),
                                    dict(elastic_alpha=1.0, elastic_sigma=0.0)])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ValueError, match="RandomAffine"):
        RandomAffine(**kwargs)
