"""``save_run``: a model of your own saved with its architecture, loaded back bit for bit, and
every problem refused in one line before anything is written."""
from __future__ import annotations

import json

import numpy as np
import pytest

from barenet import load_run, nn, save_run
from barenet.errors import CheckpointError, ConfigError


def readme_model() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 8, 3, rng=0), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2, rng=1),
                         nn.Linear(8 * 13 * 13, 10, rng=2))


def flat_model() -> nn.Sequential:
    return nn.Sequential(nn.Sequential(nn.Linear(784, 16, rng=0), nn.BatchNorm1d(16)),
                         nn.Sequential(nn.Tanh(), nn.Dropout(0.1)), nn.Linear(16, 10, rng=1))


@pytest.mark.parametrize("make, shape", [(readme_model, [1, 28, 28]), (flat_model, [784])])
def test_save_and_load_give_the_same_model(make, shape, tmp_path, rng):
    model = make()
    model.train()
    model(rng.standard_normal((8, *shape)).astype(np.float32))  # BatchNorm running stats move
    assert save_run(tmp_path / "run", model) == tmp_path / "run"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json", "weights.npz"]
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["model"] == {"name": "custom"} and cfg["input_shape"] == shape
    assert cfg["dataset"] == "mnist" and cfg["classes"] == [str(i) for i in range(10)]
    assert cfg["preprocessing"] == {"name": "normalize", "mean": 0.1307, "std": 0.3081,
                                    "flatten": len(shape) == 1}
    run = load_run(tmp_path / "run")
    assert run.name == "custom" and run.input_shape == tuple(shape) and not run.model.training
    assert repr(run.model) == repr(model)
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    model.eval()
    np.testing.assert_array_equal(run.logits(images), model(run.normalize(images)))


def test_fashion_classes_extra_keys_and_a_float64_model(tmp_path):
    model = flat_model().astype(np.float64)
    save_run(tmp_path / "f", model, dataset="Fashion_MNIST", extra={"note": "mine", "acc": 0.5})
    cfg = json.loads((tmp_path / "f" / "config.json").read_text())
    assert cfg["dataset"] == "fashion-mnist" and cfg["classes"][0] == "T-shirt/top"
    assert cfg["preprocessing"]["mean"] == 0.2860 and cfg["note"] == "mine"
    run = load_run(tmp_path / "f")
    assert all(v.dtype == np.float32 for v in run.model.state_dict().values()
               if v.dtype.kind == "f")
    letters = [chr(65 + i) for i in range(10)]
    save_run(tmp_path / "c", model, classes=letters)
    assert load_run(tmp_path / "c").classes == letters


def test_input_shape_can_be_given_when_the_first_layers_do_not_say(tmp_path):
    model = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(784, 10))
    save_run(tmp_path / "a", model)  # Flatten says: an image
    assert load_run(tmp_path / "a").input_shape == (1, 28, 28)
    save_run(tmp_path / "b", model, input_shape=(784,))
    assert load_run(tmp_path / "b").input_kind == "flat"
    with pytest.raises(ConfigError, match=r"pass input_shape=\(784,\) or \(1, 28, 28\)"):
        save_run(tmp_path / "c", nn.Sequential(nn.ReLU(), nn.Softmax()))
    save_run(tmp_path / "c", nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax()))


class Scale(nn.Module):
    def forward(self, x):
        return 2 * x


@pytest.mark.parametrize("model, kwargs, words", [
    (nn.Sequential(nn.Flatten(), nn.Linear(784, 10), Scale()), {},
     "layer 2 (Scale) is not a registered layer"),
    (Scale(), {}, "the model (Scale) is not a registered layer"),
    ("model", {}, "model must be a barenet Module, got str"),
    (nn.Sequential(nn.Linear(100, 10)), {}, "first layers take input (100,)"),
    (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()), {}, "first layers take input (3, 28, 28)"),
    (nn.Sequential(nn.Linear(784, 10)), {"input_shape": (1, 28, 28)},
     "layer 0 (Linear) expects input (N, 784), gets (N, 1, 28, 28)"),
    (nn.Sequential(nn.Linear(784, 10)), {"input_shape": (28, 28)}, "input_shape must be"),
    (nn.Sequential(nn.Linear(784, 7)), {}, "outputs [7] per sample, expected [10]"),
    (nn.Sequential(nn.Linear(784, 10)), {"classes": "0123456789"}, "classes must be a non-empty"),
    (nn.Sequential(nn.Linear(784, 10)), {"dataset": "svhn"}, "unknown dataset 'svhn'"),
    (nn.Sequential(nn.Linear(784, 10)), {"extra": {"classes": []}}, "extra may not set classes"),
    (nn.Sequential(nn.Linear(784, 10)), {"extra": {"f": object()}}, "extra is not JSON-able"),
])
def test_problems_are_one_line_and_nothing_is_written(model, kwargs, words, tmp_path):
    with pytest.raises(ConfigError) as info:
        save_run(tmp_path / "run", model, **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_non_finite_weights_are_refused(tmp_path):
    model = nn.Sequential(nn.Linear(784, 10))
    model[0].weight.data[0, 0] = np.nan
    with pytest.raises(ConfigError, match="0.weight holds NaN"):
        save_run(tmp_path / "run", model)


def test_an_existing_run_is_kept_unless_overwrite(tmp_path):
    first, second = flat_model(), readme_model()
    save_run(tmp_path / "run", first)
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(ConfigError, match="already holds a run; choose another directory"):
        save_run(tmp_path / "run", second)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before
    save_run(tmp_path / "run", second, overwrite=True)
    assert load_run(tmp_path / "run").input_shape == (1, 28, 28)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="other: is not empty"):
        save_run(tmp_path / "other", first)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        save_run(tmp_path / "file", first)
    (tmp_path / "empty").mkdir()
    save_run(tmp_path / "empty", first)


def test_a_hand_edited_custom_run_is_refused_in_one_line(tmp_path):
    save_run(tmp_path / "run", flat_model())
    path = tmp_path / "run" / "config.json"
    cfg = json.loads(path.read_text())
    cfg["architecture"]["layers"][2]["type"] = "Lambda"
    path.write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as info:
        load_run(tmp_path / "run")
    assert "config.json: architecture: layer 2: unknown layer type 'Lambda'" in str(info.value)
