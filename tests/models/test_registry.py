"""The model registry: names, specs, defaults, input kinds, parameter counts, errors."""
import numpy as np
import pytest

from barenet.errors import ConfigError
from barenet.models import (
    MODEL_NAMES,
    build_model,
    default_spec,
    describe_models,
    model_input,
    resolve_spec,
)


def test_classic_mlp_is_784_200_10():
    model = build_model({"name": "mlp"}, rng=0)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes == {"0.weight": (200, 784), "0.bias": (200,),
                      "2.weight": (10, 200), "2.bias": (10,)}
    assert default_spec("mlp") == {"name": "mlp", "hidden": 200}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_builds_and_maps_a_batch_to_10_logits(name):
    model = build_model(default_spec(name), rng=np.random.default_rng(0))
    kind = model_input(name)
    shape = (3, 784) if kind == "flat" else (3, 1, 28, 28)
    model.eval()
    out = model(np.zeros(shape, dtype=np.float32))
    assert out.shape == (3, 10) and out.dtype == np.float32


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_seed_same_weights(name):
    a = build_model(name, rng=3).state_dict()
    b = build_model(name, rng=3).state_dict()
    c = build_model(name, rng=4).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a if a[k].dtype.kind == "f")


def test_hidden_setting_and_lists():
    assert build_model({"name": "mlp", "hidden": 32}, 0).state_dict()["0.weight"].shape == (32, 784)
    deep = build_model({"name": "mlp-deep", "hidden": [64, 32]}, 0).state_dict()
    assert deep["0.weight"].shape == (64, 784) and deep["8.weight"].shape == (10, 32)
    assert resolve_spec({"name": "mlp-deep", "dropout": 0.5})["hidden"] == [512, 256]


def test_describe_models_counts_parameters():
    rows = {r["name"]: r for r in describe_models()}
    assert set(rows) == set(MODEL_NAMES)
    assert rows["mlp"]["params"] == 784 * 200 + 200 + 200 * 10 + 10
    assert all(r["description"] and r["input"] in ("flat", "image") for r in rows.values())


@pytest.mark.parametrize("spec, words", [
    ({"name": "resnet"}, "unknown model 'resnet'"),
    ("nope", "unknown model 'nope'"),
    ({"hidden": 3}, "with a 'name'"),
    ({"name": "mlp", "width": 3}, "no setting 'width'"),
    ({"name": "mlp", "hidden": 0}, "hidden must be an integer"),
    ({"name": "mlp", "hidden": "200"}, "hidden must be an integer"),
    ({"name": "mlp-deep", "dropout": 1.5}, "dropout must be a number"),
])
def test_bad_specs_raise_config_error(spec, words):
    with pytest.raises(ConfigError, match=words):
        build_model(spec)
