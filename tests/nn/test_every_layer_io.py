"""Tests generated from the layer registry (2/2): for every built-in layer and the user layers
of ``every_layer_cases.py``, built from its ``EXAMPLE``:

- PyTorch parity when ``compare/twin.py`` has a twin: forward, dL/dx, parameter grads;
- ONNX agreement with onnxruntime (<= 1e-5 on the logits) when a converter exists, in a small
  net with random weights (and random BatchNorm statistics);
- the memory estimate against what ``tracemalloc`` sees a training step allocate;
- a save_run / load_run round trip gives the same outputs.
"""
from __future__ import annotations

import numpy as np
import pytest
from every_layer_cases import cases, example, inputs, make, takes_ids
from every_layer_net import memory_inputs, memory_net, mnist_net, net, step_peak_bytes

from barenet import load_run, nn, save_run
from barenet.compare import twin
from barenet.nn.architecture import describe
from barenet.nn.init import find_generators
from barenet.nn.kernels import conv2d
from barenet.nn.step_memory import step_bytes_per_sample, step_fixed_bytes

CASES = cases()
ONNX_TOL = 1e-5


def _warm_statistics(model: nn.Module, x: np.ndarray) -> None:
    """A few training forwards, so that BatchNorm's running statistics are not 0 and 1."""
    model.train()
    for k in range(3):
        model(x * (1 + k) if x.dtype.kind == "f" else x)
    model.eval()


# -- 3. PyTorch parity ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", CASES)
def test_pytorch_twin_agrees_forward_and_gradients(name, cls):
    torch = pytest.importorskip("torch")
    layer = make(cls, seed=0, dtype=np.float64)
    try:
        tlayer = twin.to_torch(layer).double()
    except Exception as exc:      # ConfigError: no twin for this layer
        pytest.skip(f"no PyTorch twin in compare/twin.py: {exc}"[:200])
    # A layer that draws random numbers (Dropout) cannot match PyTorch's draws: compared in
    # evaluation mode; every other layer in training mode (BatchNorm's batch statistics).
    training = not find_generators({"": layer})
    layer.train(training)
    tlayer.train(training)
    layer.load_state_dict({k: v.detach().numpy() for k, v in tlayer.state_dict().items()
                           if k in layer.state_dict()})
    x = inputs(cls, 3, seed=7, dtype=np.float64)
    tx = torch.tensor(x, requires_grad=not takes_ids(cls))
    ty = tlayer(tx)
    y = layer(x)
    g = np.random.default_rng(8).standard_normal(y.shape)
    (ty * torch.tensor(g)).sum().backward()
    layer.zero_grad()
    dx = layer.backward(g)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-9, atol=1e-10)
    if not takes_ids(cls):
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    theirs = dict(tlayer.named_parameters())
    own = dict(layer.named_parameters())
    assert set(own) == set(theirs)
    for k, p in own.items():
        np.testing.assert_allclose(p.grad, theirs[k].grad.numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=k)


# -- 4. ONNX agreement --------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", CASES)
def test_onnx_export_agrees_with_onnxruntime(name, cls):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from barenet.export import CONVERTERS, onnx_model

    if cls not in CONVERTERS:
        pytest.skip(f"no ONNX converter for {name} (export/converters.py)")
    _, shape = example(cls)
    model = net(cls, before=False)           # random weights: the layer, Flatten, Linear
    x = inputs(cls, 16, seed=9)
    _warm_statistics(model, x)
    proto = onnx_model(model, input_shape=shape)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    want = model(x)
    assert got.dtype == np.float32 and got.shape == want.shape == (16, 10)
    assert float(np.max(np.abs(got - want))) <= ONNX_TOL


# -- 5. the memory estimate ------------------------------------------------------------------
BATCH = 256        # with ~1000 input values per sample, the per-sample costs dominate
BAND = (0.8, 1.3)  # the estimate over what tracemalloc measures for one training step


@pytest.mark.parametrize("name, cls", CASES)
def test_memory_estimate_against_tracemalloc(name, cls, monkeypatch):
    # as tests/train/test_memory.py: dL/dcols blocks of one output row, so nothing is fixed
    monkeypatch.setattr(conv2d, "DCOLS_BLOCK_BYTES", 0)
    model, shape = memory_net(cls)      # ScaleShift, the layer (grown input), Flatten, Linear
    arch = describe(model)
    est = step_bytes_per_sample(arch, shape) * BATCH + step_fixed_bytes(arch, shape)
    real = step_peak_bytes(model, memory_inputs(cls, shape, BATCH))
    ratio = est / real
    assert BAND[0] <= ratio <= BAND[1], (
        f"{name}: the estimate {est:,} is {ratio:.2f}x what a step holds {real:,} "
        f"({est / BATCH:.0f} vs {real / BATCH:.0f} bytes per sample, input {shape})")


# -- 7. save_run / load_run ------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", CASES)
def test_save_run_and_load_run_give_the_same_outputs(name, cls, tmp_path):
    model, shape = mnist_net(cls)
    x = np.random.default_rng(11).standard_normal((5, *shape)).astype(np.float32)
    if takes_ids(cls):
        x = np.random.default_rng(11).integers(0, example(cls)[0]["num_embeddings"], (5, *shape))
    _warm_statistics(model, x)
    want = model(x)
    save_run(tmp_path / "run", model, input_shape=shape)
    run = load_run(tmp_path / "run")
    assert [type(m) for m in run.model.modules()] == [type(m) for m in model.modules()]
    assert tuple(run.input_shape) == shape
    got = run.model(x)
    assert got.shape == (5, 10)
    np.testing.assert_array_equal(got, want)
