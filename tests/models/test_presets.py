"""The named models are presets: each spec stands for a JSON architecture, and build_model builds
exactly that architecture, with the same weights as the hand-written networks they replaced."""
import json

import numpy as np
import pytest

from barenet import nn
from barenet.errors import ConfigError
from barenet.models import (
    MODEL_NAMES,
    architecture_of,
    build_model,
    count_parameters,
    default_spec,
    describe_models,
    input_shape,
    model_input,
)
from barenet.nn.architecture import count_numbers, describe
from barenet.nn.architecture_shapes import infer_input_shape, output_shape

SPECS = [default_spec(n) for n in MODEL_NAMES] + [
    {"name": "mlp", "hidden": [30, 20]}, {"name": "mlp-deep", "hidden": [16], "dropout": 0.0},
    {"name": "lenet5", "hidden": []}, {"name": "cnn", "channels": [4], "dropout": 0.0},
    {"name": "cnn-large", "channels": [4, 8, 8], "hidden": [9, 7]}]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: json.dumps(s))
def test_the_preset_builds_its_architecture(spec):
    arch = architecture_of(spec)
    model = build_model(spec, rng=0)
    assert describe(model) == arch
    assert json.loads(json.dumps(arch)) == arch
    assert infer_input_shape(arch, (28, 28)) == input_shape(spec)
    assert output_shape(arch, input_shape(spec)) == (10,)
    assert count_numbers(arch)[0] == count_parameters(model)
    assert model_input(spec) == ("flat" if input_shape(spec) == (784,) else "image")


def old_mlp(hidden, rng):
    """The classic MLP as models/mlp.py built it before presets were architectures."""
    layers, fan_in = [], 784
    for w in hidden:
        layers += [nn.Linear(fan_in, w, rng=rng), nn.ReLU()]
        fan_in = w
    return nn.Sequential(*layers, nn.Linear(fan_in, 10, rng=rng))


def old_cnn(rng, p=0.25):
    """The default CNN as models/cnn.py built it before presets were architectures."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, rng=rng), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(32, 64, 3, rng=rng), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Dropout(p, rng=rng.spawn(1)[0]), nn.Linear(1600, 128, rng=rng),
        nn.ReLU(), nn.Dropout(p, rng=rng.spawn(1)[0]), nn.Linear(128, 10, rng=rng))


@pytest.mark.parametrize("spec, old", [
    ({"name": "mlp", "hidden": [64, 32]}, lambda g: old_mlp([64, 32], g)),
    ({"name": "cnn"}, old_cnn),
])
def test_the_same_seed_gives_the_same_weights_and_dropout_masks_as_before(spec, old):
    new, ref = build_model(spec, rng=np.random.default_rng(11)), old(np.random.default_rng(11))
    a, b = new.state_dict(), ref.state_dict()
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
    masks = [[m.rng.random(4) for m in net.modules() if isinstance(m, nn.Dropout)]
             for net in (new, ref)]
    assert len(masks[0]) == len(masks[1]) and all(map(np.array_equal, *masks))


def test_describe_models_counts_without_building():
    rows = {r["name"]: r for r in describe_models()}
    for name, row in rows.items():
        assert row["params"] == count_parameters(build_model(name, rng=0))


def test_a_preset_too_large_is_refused_before_building():
    with pytest.raises(ConfigError, match="more than the limit of 50,000,000"):
        build_model({"name": "mlp", "hidden": [65536, 65536]})
    with pytest.raises(ConfigError, match="unknown model 'custom'"):
        architecture_of({"name": "custom"})
