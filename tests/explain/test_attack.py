"""FGSM: stays in [0, 1], moves each pixel by at most eps, fools a trained model; the attack
measurement in batches, with eps 0 equal to evaluate's accuracy."""
from __future__ import annotations

import numpy as np
import pytest

from barenet.explain import attack_run, check_eps, fgsm, input_gradient, pixels_to_input, sign_step
from barenet.train.evaluate import evaluate_run


@pytest.mark.parametrize("eps", [0.0, 0.03, 0.1, 0.5])
def test_fgsm_stays_in_range_and_moves_at_most_eps(mlp_run, mnist_test, eps):
    p = mnist_test.images[:50].astype(np.float32) / 255
    y = mnist_test.labels[:50]
    adv = fgsm(mlp_run.model, mlp_run.normalize, p, y, eps)
    assert adv.shape == p.shape and adv.dtype == np.float32
    assert adv.min() >= 0 and adv.max() <= 1
    moved = np.abs(adv - p)
    assert moved.max() <= eps + 1e-6
    grad, _ = input_gradient(mlp_run.model, mlp_run.normalize, p, y)
    expected = np.clip(p - eps * np.sign(grad), 0, 1)        # against the loss: minus log p
    np.testing.assert_allclose(adv, expected, atol=1e-6)
    if eps:
        free = (grad != 0) & (p - eps * np.sign(grad) >= 0) & (p - eps * np.sign(grad) <= 1)
        assert free.mean() > 0.2                     # pixels away from the clip move by eps
        np.testing.assert_allclose(moved[free], eps, atol=1e-6)


def test_fgsm_lowers_accuracy(mlp_run, mnist_test):
    p = mnist_test.images[:300].astype(np.float32) / 255
    y = mnist_test.labels[:300]
    clean = np.mean(mlp_run.predict(mnist_test.images[:300]) == y)
    adv = fgsm(mlp_run.model, mlp_run.normalize, p, y, 0.15)
    u = np.round(adv * 255).astype(np.uint8)     # the attack survives saving as an image
    fooled = np.mean(mlp_run.predict(u) == y)
    assert clean > 0.75
    assert fooled < clean - 0.4, (clean, fooled)


def test_bad_eps_is_refused(mlp_run):
    p = np.zeros((1, 28, 28), np.float32)
    for eps in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="eps"):
            fgsm(mlp_run.model, mlp_run.normalize, p, np.array([0]), eps)
        with pytest.raises(ValueError, match="eps"):
            sign_step(p, p, eps)


@pytest.mark.parametrize("which", ["mlp_run", "cnn_run"])
def test_attack_at_eps_0_is_evaluates_accuracy(which, request, mnist_test):
    run = request.getfixturevalue(which)
    n = 1200     # more than one of evaluate's batches of 1000, and a part batch
    res = attack_run(run, mnist_test.images[:n], mnist_test.labels[:n], [0.1, 0, 0.05],
                     batch_size=128)
    assert res["eps"] == [0.0, 0.05, 0.1] and res["n"] == n and res["run"] == str(run.run_dir)
    assert res["accuracy"][0] == evaluate_run(run, mnist_test, limit=n)["accuracy"]
    assert res["accuracy"][0] == np.mean(run.predict(mnist_test.images[:n])
                                         == mnist_test.labels[:n])
    assert res["accuracy"][0] > res["accuracy"][1] > res["accuracy"][2]
    assert "examples" not in res


def test_attack_agrees_with_fgsm_and_keeps_examples(mlp_run, mnist_test):
    u, y = mnist_test.images[:300], mnist_test.labels[:300]
    res = attack_run(mlp_run, u, y, [0, 0.1], keep=5, batch_size=2)    # keep spans batches
    adv = fgsm(mlp_run.model, mlp_run.normalize, u.astype(np.float32) / 255, y, 0.1)
    logits = mlp_run.model(pixels_to_input(adv, mlp_run.normalize, np.dtype(np.float32)))
    assert res["accuracy"][1] == pytest.approx(np.mean(logits.argmax(axis=1) == y),
                                               abs=1 / 300)   # batches of 2 vs one of 300
    assert res["examples"].shape == (2, 5, 28, 28)
    assert res["example_probabilities"].shape == (2, 5, 10)
    np.testing.assert_array_equal(res["examples"][0], u[:5].astype(np.float32) / 255)
    np.testing.assert_allclose(res["examples"][1], adv[:5], atol=1e-6)
    np.testing.assert_allclose(res["example_probabilities"].sum(axis=2), 1, rtol=1e-5)
    np.testing.assert_array_equal(res["example_labels"], y[:5])
    whole = attack_run(mlp_run, u, y, [0, 0.1], batch_size=1000)
    assert whole["accuracy"] == pytest.approx(res["accuracy"], abs=2 / 300)


@pytest.mark.parametrize("values, ok", [
    ([0.2, 0, 0.05, 0.05], [0.0, 0.05, 0.2]),
    ([1.0], [1.0]),
    ([], None), ([-0.01], None), ([1.5], None), ([float("nan")], None),
    ([float("inf")], None), ([0.01 * k for k in range(21)], None),
])
def test_check_eps(values, ok):
    if ok is None:
        with pytest.raises(ValueError):
            check_eps(values)
    else:
        assert check_eps(values) == ok


def test_attack_refuses_images_that_are_not_uint8(mlp_run, mnist_test):
    with pytest.raises(ValueError, match="uint8"):
        attack_run(mlp_run, mnist_test.images[:4] / 255, mnist_test.labels[:4], [0.1])
