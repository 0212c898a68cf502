"""Tests generated from the layer registry (1/2): for every built-in layer and for layers of a
user's own (``every_layer_cases.py``), built from its ``EXAMPLE``:

- its gradients (dL/dx and every parameter's) equal float64 centred finite differences, with
  another layer before it;
- behind a Conv2d, its float32 forward and backward agree with float64 within ~1e-6 (the
  layout rule: a layer's output is an array the next layer can reduce accurately);
- ``summary`` reports the shapes a real forward makes;
- an unknown layer type is an error naming it.
"""
from __future__ import annotations

import numpy as np
import pytest
from every_layer_cases import (
    SampleCentre,
    ScaleShift,
    cases,
    conv_to,
    example,
    inputs,
    make,
    takes_ids,
)

from barenet import nn
from barenet.gradcheck import NOISE_FRACTION, check_module, numerical_vjp, rel_error
from barenet.nn.architecture import ArchitectureError, layer, sequential, validate
from barenet.nn.architecture_shapes import output_shape, shapes
from barenet.nn.init import find_generators
from barenet.nn.registry import is_builtin, registered

CASES = cases()
F32_TOL = 2e-6      # float32 vs float64, relative to the largest value compared (PyTorch ~1e-6)


def test_every_builtin_layer_has_an_example_and_ours_are_included():
    builtins = [c for c in registered().values() if is_builtin(c)]
    assert builtins and all(c.EXAMPLE is not None for c in builtins), \
        [c.__name__ for c in builtins if c.EXAMPLE is None]
    names = {p.values[0] for p in CASES}
    assert {"ScaleShift", "SampleCentre", "Conv2d", "Linear"} <= names


# -- 1. gradients ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls", CASES)
def test_gradients_match_finite_differences_with_a_layer_before(name, cls):
    _, shape = example(cls)
    target = make(cls, seed=0, dtype=np.float64)
    if takes_ids(cls):
        # ids have no gradient: the layer comes first, a ScaleShift after it
        model = nn.Sequential(target, ScaleShift(cls.infer_shape(example(cls)[0], shape)[0],
                                                 rng=3).astype(np.float64))
        ids = inputs(cls, 3)
        g = np.random.default_rng(4).standard_normal(model(ids).shape)
        model.zero_grad()
        model(ids)
        model.backward(g)
        numeric = {k: numerical_vjp(lambda: model.forward(ids), p.data, g)
                   for k, p in model.named_parameters()}
        scale = max(float(np.max(np.abs(v))) for v in numeric.values())
        errors = {k: rel_error(p.grad, numeric[k], max(1e-8, NOISE_FRACTION * scale))
                  for k, p in model.named_parameters()}
        assert max(errors.values()) < 1e-6, errors
        return
    model = nn.Sequential(ScaleShift(shape[0], rng=3).astype(np.float64), target)
    model.train()
    result = check_module(model, inputs(cls, 3, dtype=np.float64), rng=4)
    assert {k for k in result.errors} >= {"input", "0.weight", "0.bias"}
    assert {f"1.{k}" for k, _ in target.named_parameters()} <= set(result.errors)
    assert result.ok, f"{name}: {result}"


def test_a_wrong_gradient_is_caught():
    class Wrong(ScaleShift):                   # forgets the scale in dL/dx
        def backward(self, grad_out):
            super().backward(grad_out)
            return grad_out

    model = nn.Sequential(ScaleShift(3, rng=1), Wrong(3, rng=2)).astype(np.float64)
    result = check_module(model, inputs(ScaleShift, 3, dtype=np.float64))
    assert not result.ok and result.errors["input"] > 1e-3 and result.errors["1.weight"] < 1e-6


# -- 2. float32 behind a Conv2d (the layout rule) ---------------------------------------------
def _rel(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(a - ref)) / max(float(np.max(np.abs(ref))), 1e-30))


def _float32_vs_float64(layer32, layer64, x32, g32) -> dict[str, float]:
    """Largest relative difference of the output, dL/dx and parameter grads of a float32 layer
    fed ``x32`` against the same layer in float64 fed ``x32`` exactly. In training mode, except
    a layer that draws random numbers (Dropout draws its mask in its input's dtype, so the two
    masks differ): in evaluation mode."""
    random = bool(find_generators({"": layer32}))
    for m in (layer32, layer64):
        m.train(not random)
        m.zero_grad()
    x64 = x32.astype(np.float64)
    y32, y64 = layer32(x32), layer64(x64)
    assert y32.dtype == np.float32
    errors = {"output": _rel(y32, y64)}
    errors["input"] = _rel(layer32.backward(g32), layer64.backward(g32.astype(np.float64)))
    own = dict(layer64.named_parameters())
    for k, p in layer32.named_parameters():
        errors[k] = _rel(p.grad, own[k].grad)
    return errors


@pytest.mark.parametrize("name, cls", [c for c in CASES if not takes_ids(c.values[1])])
def test_float32_behind_a_conv_agrees_with_float64(name, cls):
    config, shape = example(cls)
    conv, conv_in = conv_to(shape)
    x = np.random.default_rng(5).standard_normal((8, *conv_in)).astype(np.float32)
    h = conv(x).reshape(8, *shape)                    # what the conv hands on, as it is
    layer32, layer64 = make(cls, seed=0), make(cls, seed=0, dtype=np.float64)
    out = (8, *cls.infer_shape(config, shape))
    g = np.random.default_rng(6).standard_normal(out)
    errors = _float32_vs_float64(layer32, layer64, h, g.astype(np.float32))
    assert max(errors.values()) < F32_TOL, errors


#: Layers that reduce over each sample's non-batch axes, at the size of a real CNN's feature
#: maps (32 x 24 x 24 per sample): where a sum taken element by element loses digits.
REDUCERS = {
    "BatchNorm2d": lambda: nn.BatchNorm2d(32),
    "LayerNorm": lambda: nn.LayerNorm([32, 24, 24]),
    "SampleCentre (a user's x - x.mean(axis=(1, 2, 3)))": SampleCentre,
}


@pytest.mark.parametrize("make_layer", REDUCERS.values(), ids=REDUCERS.keys())
def test_a_reduction_behind_a_real_sized_conv_keeps_float32_accuracy(make_layer):
    conv = nn.Conv2d(4, 32, 3, padding=1, rng=0)
    x = np.random.default_rng(0).standard_normal((16, 4, 24, 24)).astype(np.float32)
    h = conv(x) + np.float32(2.0)        # an offset, as after a ReLU: the mean matters
    g = np.random.default_rng(1).standard_normal(h.shape).astype(np.float32)
    errors = _float32_vs_float64(make_layer(), make_layer().astype(np.float64), h, g)
    assert max(errors.values()) < F32_TOL, errors


def test_a_layer_that_is_not_layout_aware_receives_c_order():
    """The conv kernel hands on a batch-last view (fast for the next kernel); a layer that
    does not declare LAYOUT_AWARE gets its input, and in a Sequential its upstream gradient,
    copied into C order; a layout-aware one gets the view as it is."""
    seen = {}

    class Probe(nn.Module):
        def forward(self, x):
            seen["x"] = x.flags.c_contiguous
            return x

        def backward(self, g):
            seen["g"] = g.flags.c_contiguous
            return g

    x = np.random.default_rng(0).standard_normal((4, 2, 8, 8)).astype(np.float32)
    conv = nn.Conv2d(2, 3, 3, padding=1, rng=0)
    assert not conv(x).flags.c_contiguous and nn.ReLU.LAYOUT_AWARE   # the view, kept
    model = nn.Sequential(Probe(), nn.Conv2d(2, 3, 3, padding=1, rng=0), Probe(), nn.ReLU())
    y = model(x)
    model.backward(np.ones_like(y))
    assert seen == {"x": True, "g": True}
    assert not Probe.LAYOUT_AWARE and nn.LayerNorm.LAYOUT_AWARE is False


# -- 6. summary shapes equal a real forward's ----------------------------------------------------
@pytest.mark.parametrize("name, cls", CASES)
def test_summary_shapes_are_those_of_a_real_forward(name, cls):
    _, shape = example(cls)
    model = nn.Sequential(make(cls))
    if not takes_ids(cls):
        model = nn.Sequential(ScaleShift(shape[0], rng=1), make(cls), nn.Identity())
    model.train()
    seen = []
    x = inputs(cls, 2)
    for m in model._modules.values():
        x = m(x)
        seen.append(tuple(x.shape[1:]))
    rows = model.summary(shape).rows
    assert [r.output_shape for r in rows] == seen
    assert rows[-1].output_shape == tuple(model(inputs(cls, 3)).shape[1:])


# -- an unknown layer is an error naming it ------------------------------------------------------
UNKNOWN = sequential(layer("Linear", in_features=4, out_features=3), layer("Wobble", k=1))


def test_validating_an_unknown_layer_names_it():
    with pytest.raises(ArchitectureError, match="Wobble"):
        validate(UNKNOWN)


def test_inferring_shapes_of_an_unknown_layer_names_it():
    with pytest.raises(ArchitectureError, match="Wobble"):
        output_shape(UNKNOWN, (4,))
    with pytest.raises(ArchitectureError, match="Wobble"):
        list(shapes(UNKNOWN, (4,)))
