"""Input gradients d log p(class) / d pixel: equal to float64 centred differences through the
run's normalisation (MLP and CNN), accurate for confident predictions, SmoothGrad an average,
and the model input built from pixels identical to ``Normalize``'s."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from barenet import nn
from barenet.data.transforms import Normalize
from barenet.explain import explain, input_gradient, pixels_to_input, smooth_gradient, strongest
from barenet.explain.gradients import float64_copy, log_softmax_gradient
from barenet.nn.functional import log_softmax, one_hot, softmax


def _log_prob(model, normalize, pixels, targets):
    """log p(target) per picture of a float64 model, (B,)."""
    logits = model(pixels_to_input(pixels, normalize, np.dtype(np.float64)))
    return log_softmax(logits, axis=1)[np.arange(len(pixels)), targets]


def _tie_free(images, rng):
    """Test images as pixels in [0.05, 0.95] plus a little noise: the black background of a raw
    digit makes equal conv outputs, max-pool ties and ReLU kinks that a finite difference
    straddles; the gradient is the same function away from them."""
    p = images.astype(np.float64) / 255 * 0.9 + 0.05
    return p + rng.uniform(-0.04, 0.04, size=p.shape)


@pytest.mark.parametrize("which, pixels_checked", [("mlp_run", 784), ("cnn_run", 120)])
def test_input_gradient_equals_centred_differences(which, pixels_checked, request, mnist_test):
    run = request.getfixturevalue(which)
    model = copy.deepcopy(run.model).astype(np.float64)
    rng = np.random.default_rng(0)
    p = _tie_free(mnist_test.images[:2], rng)
    targets = np.array([int(mnist_test.labels[0]), 3])      # the true class, and another one
    grad, logits = input_gradient(model, run.normalize, p, targets)
    assert grad.shape == p.shape and grad.dtype == np.float64 and logits.shape == (2, 10)
    flat = rng.choice(784, pixels_checked, replace=False)
    h = 1e-7     # small, so a ReLU or max-pool switch rarely falls inside [p - h, p + h]
    numeric = np.zeros((2, len(flat)))
    for k, j in enumerate(flat):
        r, c = divmod(int(j), 28)
        up, down = p.copy(), p.copy()
        up[:, r, c] += h
        down[:, r, c] -= h
        numeric[:, k] = (_log_prob(model, run.normalize, up, targets)
                         - _log_prob(model, run.normalize, down, targets)) / (2 * h)
    analytic = grad.reshape(2, -1)[:, flat]
    err = np.abs(analytic - numeric).max() / np.abs(numeric).max()
    assert err < 1e-5, err
    assert np.abs(numeric).max() > 1e-3          # a real gradient, not two zeros agreeing
    assert all(p_.grad is None or not p_.grad.any() for p_ in model.parameters())


def test_chain_rule_through_normalisation_is_division_by_std(mlp_run, mnist_test):
    """Same model, same inputs x, a normalisation with twice the std: pixel gradients halve."""
    model = copy.deepcopy(mlp_run.model).astype(np.float64)
    norm = mlp_run.normalize
    p = mnist_test.images[:3].astype(np.float64) / 255
    x = pixels_to_input(p, norm, np.dtype(np.float64))
    wide = Normalize(mean=norm.mean, std=2 * norm.std, flatten=norm.flatten)
    # pixels q with (q - mean) / (2 std) == x
    q = (x.reshape(3, 28, 28) * 2 * norm.std + norm.mean)
    g1, _ = input_gradient(model, norm, p, np.array([1, 2, 3]))
    g2, _ = input_gradient(model, wide, q, np.array([1, 2, 3]))
    np.testing.assert_allclose(g2, g1 / 2, rtol=1e-9, atol=1e-15)


def test_confident_prediction_keeps_the_target_term():
    """When p(c) rounds to 1 in float32, 1 - p(c) must still come out right: the float32
    gradient agrees with the float64 one (dropping d z_c / dx would leave only the
    runner-up classes' terms and a different picture)."""
    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Linear(784, 10))
    model[0].weight.data = rng.normal(0, 3.0, (10, 784)).astype(np.float32)
    model[0].bias.data = np.zeros(10, np.float32)
    norm = Normalize(0.1307, 0.3081, flatten=True)
    p = rng.uniform(0, 1, (1, 28, 28)).astype(np.float32)
    logits = model(pixels_to_input(p, norm, np.dtype(np.float32)))
    top = logits.argmax(axis=1)
    gap = np.sort(logits, axis=1)[:, -1] - np.sort(logits, axis=1)[:, -2]
    assert (gap > 20).all()                  # p(top) is 1.0 in float32: the case that matters
    g32, _ = input_gradient(model, norm, p, top)
    g64, _ = input_gradient(copy.deepcopy(model).astype(np.float64), norm,
                            p.astype(np.float64), top)
    np.testing.assert_allclose(g32, g64, rtol=2e-3, atol=1e-3 * np.abs(g64).max())
    # the naive onehot - softmax in float32 loses the target's term: this test would see it
    naive = one_hot(top, 10) - softmax(logits, axis=1)
    assert naive[0, top[0]] == 0
    g_naive = model.backward(naive).reshape(1, 28, 28) / norm.std
    assert np.abs(g_naive - g64).max() > 0.5 * np.abs(g64).max()


def test_log_softmax_gradient_of_a_saturated_row():
    z = np.array([[40.0, 0.0, 0.0], [0.0, 1.0, 2.0]], dtype=np.float32)
    g = log_softmax_gradient(z, np.array([0, 1]))
    assert g[0, 0] == pytest.approx(2 * np.exp(-40.0), rel=1e-5)    # 1 - p, not 0
    p = np.exp(z[1] - z[1].max()) / np.exp(z[1] - z[1].max()).sum()
    np.testing.assert_allclose(g[1], np.eye(3)[1] - p, rtol=1e-6)
    np.testing.assert_allclose(g.sum(axis=1), 0, atol=1e-7)


@pytest.mark.parametrize("which", ["mlp_run", "cnn_run"])
def test_pixels_to_input_is_normalize_bit_for_bit(which, request, mnist_test):
    run = request.getfixturevalue(which)
    u = mnist_test.images[:500]
    x = pixels_to_input(u.astype(np.float32) / np.float32(255), run.normalize,
                        np.dtype(np.float32))
    assert x.dtype == np.float32
    assert np.array_equal(x, run.normalize(u))


def test_smooth_gradient_is_the_mean_over_noisy_copies(mlp_run, mnist_test):
    p = mnist_test.images[:3].astype(np.float32) / 255
    model, norm = mlp_run.model, mlp_run.normalize
    smooth, logits = smooth_gradient(model, norm, p, samples=4, sigma=0.2, rng=7)
    assert smooth.shape == (3, 28, 28) and logits.shape == (3, 10)
    targets = logits.argmax(axis=1)            # noisy copies explain the clean prediction
    gen = np.random.default_rng(7)
    by_hand = np.mean([input_gradient(model, norm, p + gen.normal(0, 0.2, p.shape), targets)[0]
                       for _ in range(4)], axis=0)
    np.testing.assert_allclose(smooth, by_hand, rtol=1e-5, atol=1e-7)
    assert not np.allclose(smooth, input_gradient(model, norm, p)[0], atol=1e-6)
    plain, _ = smooth_gradient(model, norm, p, samples=1, sigma=0.0)
    np.testing.assert_allclose(plain, input_gradient(model, norm, p)[0], rtol=1e-6)
    with pytest.raises(ValueError, match="samples"):
        smooth_gradient(model, norm, p, samples=0)


def test_explain_record(mlp_run, mnist_test):
    p = mnist_test.images[:2].astype(np.float32) / 255
    records = explain(mlp_run, p)
    _, logits = input_gradient(mlp_run.model, mlp_run.normalize, p)     # the float32 answer
    exact, _ = input_gradient(float64_copy(mlp_run.model), mlp_run.normalize, p,
                              logits.argmax(axis=1))      # the gradient, taken in float64
    assert len(records) == 2
    for rec, g, z in zip(records, exact, logits):
        assert set(rec) >= {"prediction", "label", "probabilities", "target", "input_gradient"}
        assert rec["prediction"] == rec["target"] == int(z.argmax())
        assert rec["label"] == mlp_run.classes[rec["prediction"]]
        assert sum(rec["probabilities"]) == pytest.approx(1.0)
        np.testing.assert_array_equal(np.array(rec["input_gradient"]), g)
    assert all(r["target"] == 4 for r in explain(mlp_run, p, target=4))
    for bad in ({"target": 10}, {"target": -1}, {"smooth": -1}, {"smooth": 201}):
        with pytest.raises(ValueError):
            explain(mlp_run, p, **bad)


def test_strongest():
    g = np.zeros((28, 28))
    g[3, 4], g[10, 10] = -2.0, 1.0
    ink = np.zeros((28, 28))
    ink[10, 10] = 1.0
    s = strongest(g, ink)
    assert s["peak"] == [3, 4] and s["value"] == -2.0
    assert s["on_ink"] == pytest.approx(1 / 3)
    assert strongest(np.zeros((28, 28)), ink)["on_ink"] == 0.0
