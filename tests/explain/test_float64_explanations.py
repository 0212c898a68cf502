"""Explanations are the network's exact gradient, not float32 rounding's.

In a network that pools before its ReLU (the ``cnn`` preset: Conv2d -> MaxPool2d -> ReLU) the
normalised background of a digit is constant, so the convolution's outputs there are equal in
exact arithmetic; in float32 they can differ by rounding from one position to the next (it
depends on the BLAS kernel), and max-pool sends the gradient wherever the rounding put the
largest. ``explain`` therefore differentiates a float64 copy of the model, in which the ties
stay ties and max-pool takes the first maximum (PyTorch's rule), and leaves the run's own
float32 model as it was.
"""
from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from barenet.explain import explain, input_gradient, pixels_to_input


def _view(run):
    return SimpleNamespace(model=run.model, normalize=run.normalize, classes=list(run.classes))


def _pixels(mnist_test, n=4):
    return mnist_test.images[:n].astype(np.float32) / np.float32(255)


def _float64_gradient(run, pixels, targets):
    model = copy.deepcopy(run.model).astype(np.float64)
    return input_gradient(model, run.normalize, pixels, targets)[0]


def _explained(run, pixels, **kw):
    records = explain(_view(run), pixels, **kw)
    grad = np.array([r["input_gradient"] for r in records])
    return records, grad


# Run in a fresh process whose OpenBLAS uses its AVX2 (Haswell) sgemm kernel where the CPU has
# one: that kernel rounds the background's equal convolution outputs differently from one position
# to the next (as on many AVX2 machines), which the AVX-512 kernel happens not to do.
_SCRIPT = """
import copy, json, sys
from types import SimpleNamespace
import numpy as np
from barenet.data.datasets import load_dataset
from barenet.explain import explain, input_gradient
from barenet.train.checkpoint import load_run

run = load_run(sys.argv[1])
pixels = load_dataset("mnist", "test").images[:8].astype(np.float32) / np.float32(255)
view = SimpleNamespace(model=run.model, normalize=run.normalize, classes=list(run.classes))
records = explain(view, pixels)
grad = np.array([r["input_gradient"] for r in records])
targets = np.array([r["target"] for r in records])
exact = input_gradient(copy.deepcopy(run.model).astype(np.float64), run.normalize, pixels,
                       targets)[0]
float32 = input_gradient(run.model, run.normalize, pixels, targets)[0]
scale = np.abs(exact).max(axis=(1, 2), keepdims=True)
off_ink = pixels == 0
print(json.dumps({
    "explain_off_ink": float((np.abs(grad - exact) / scale)[off_ink].max()),
    "explain_all": float((np.abs(grad - exact) / scale).max()),
    "float32_off_ink": float((np.abs(float32 - exact) / scale)[off_ink].max()),
    "off_ink_pixels": int(off_ink.sum()),
}))
"""


def _haswell_env() -> dict:
    env = dict(os.environ)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    if platform.machine() in ("x86_64", "AMD64") and " avx2" in flags:
        env["OPENBLAS_CORETYPE"] = "Haswell"
    return env


@pytest.fixture(scope="module")
def fresh_process_errors(cnn_run):
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(cnn_run.run_dir)],
                         env=_haswell_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_explain_is_the_float64_gradient_off_the_ink_too(fresh_process_errors):
    """On 8 real test digits, explain's heatmap equals the float64 gradient to 1e-6 of its
    largest value, on the constant background (where max-pool ties) as on the strokes."""
    err = fresh_process_errors
    assert err["off_ink_pixels"] > 8 * 400
    assert err["explain_off_ink"] < 1e-6, err
    assert err["explain_all"] < 1e-6, err


def test_float32_gradient_breaks_pooling_ties_by_rounding(fresh_process_errors):
    """Why the float64 copy: where the BLAS rounds equal background outputs unequally, the
    float32 model's own gradient puts weight off the ink that the network does not have."""
    err = fresh_process_errors
    if err["float32_off_ink"] < 1e-6:
        pytest.skip("this BLAS rounds the background's convolution outputs alike")
    assert err["float32_off_ink"] > 1e-3, err


def test_explain_in_process_equals_the_float64_gradient(cnn_run, mnist_test):
    pixels = _pixels(mnist_test)
    records, grad = _explained(cnn_run, pixels)
    exact = _float64_gradient(cnn_run, pixels, [r["target"] for r in records])
    for g, e in zip(grad, exact):
        assert np.abs(g - e).max() / np.abs(e).max() < 1e-6


def _torch_twin(torch, model):
    """The same Sequential in PyTorch, float64, weights copied (the layers of ``cnn``)."""
    tnn, layers = torch.nn, []
    for m in model:
        name, c = type(m).__name__, m.get_config()
        if name == "Conv2d":
            layers.append(tnn.Conv2d(c["in_channels"], c["out_channels"], c["kernel_size"],
                                     c["stride"], c["padding"], bias=c["bias"]))
        elif name == "MaxPool2d":
            layers.append(tnn.MaxPool2d(c["kernel_size"], c["stride"], c["padding"]))
        elif name == "Linear":
            layers.append(tnn.Linear(c["in_features"], c["out_features"], bias=c["bias"]))
        elif name in ("ReLU", "Flatten", "Dropout"):
            layers.append({"ReLU": tnn.ReLU, "Flatten": tnn.Flatten,
                           "Dropout": tnn.Dropout}[name]())
        else:  # pragma: no cover - the fixture is a cnn
            raise AssertionError(f"no twin for {name}")
    twin = tnn.Sequential(*layers).double().eval()
    twin.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float64))
                          for k, v in model.state_dict().items()})
    return twin


def test_explain_matches_torch_autograd_in_float64(cnn_run, mnist_test):
    """PyTorch in float64 breaks the background's ties the same way: first maximum."""
    torch = pytest.importorskip("torch")
    pixels = _pixels(mnist_test)
    records, grad = _explained(cnn_run, pixels)
    twin = _torch_twin(torch, cnn_run.model)
    norm = cnn_run.normalize
    p = torch.tensor(pixels.astype(np.float64), requires_grad=True)
    logp = torch.log_softmax(twin(((p - norm.mean) / norm.std)[:, None]), dim=1)
    targets = torch.tensor([r["target"] for r in records])
    logp[torch.arange(len(targets)), targets].sum().backward()
    want = p.grad.numpy()
    for g, w in zip(grad, want):
        assert np.abs(g - w).max() / np.abs(w).max() < 1e-6


def test_explain_leaves_the_run_model_float32_and_unchanged(cnn_run, mnist_test):
    before = {k: v.copy() for k, v in cnn_run.model.state_dict().items()}
    pixels = _pixels(mnist_test, 2)
    records, _ = _explained(cnn_run, pixels, smooth=3)
    after = cnn_run.model.state_dict()
    assert set(after) == set(before)
    for k, v in before.items():
        assert after[k].dtype == v.dtype and np.array_equal(after[k], v), k
    assert all(p.data.dtype == np.float32 for p in cnn_run.model.parameters())
    assert all(p.grad is None or not p.grad.any() for p in cnn_run.model.parameters())


def test_prediction_and_probabilities_are_the_float32_models(cnn_run, mnist_test):
    """The explained prediction is the one ``predict`` and ``evaluate`` make."""
    pixels = _pixels(mnist_test)
    records, _ = _explained(cnn_run, pixels)
    x = pixels_to_input(pixels, cnn_run.normalize, np.dtype(np.float32))
    logits = cnn_run.model(x)
    assert [r["prediction"] for r in records] == list(logits.argmax(axis=1))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    np.testing.assert_allclose([r["probabilities"] for r in records], probs, atol=1e-6)


def test_smoothgrad_is_the_float64_average(cnn_run, mnist_test):
    pixels = _pixels(mnist_test, 1)
    records, grad = _explained(cnn_run, pixels, smooth=4, rng=3)
    model = copy.deepcopy(cnn_run.model).astype(np.float64)
    gen = np.random.default_rng(3)
    p = pixels.astype(np.float64)
    target = np.array([records[0]["target"]])
    total = np.zeros_like(p)
    for _ in range(4):
        noisy = p + gen.normal(0.0, 0.15, size=p.shape)
        total += input_gradient(model, cnn_run.normalize, noisy, target)[0]
    want = total / 4
    assert np.abs(grad - want).max() / np.abs(want).max() < 1e-6
