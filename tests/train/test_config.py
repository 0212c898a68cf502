"""Training configs: defaults per model and optimizer, validation, config files."""
import json

import pytest

from barenet.errors import ConfigError
from barenet.train.config import BASE_DEFAULTS, read_config_file, resolve_config


def test_defaults_are_the_classic_mlp_recipe():
    cfg = resolve_config({})
    assert cfg["model"] == "mlp" and cfg["spec"] == {"name": "mlp", "hidden": 200}
    assert (cfg["optimizer"], cfg["lr"], cfg["momentum"], cfg["scheduler"]) == \
        ("sgd", 0.05, 0.9, "cosine")
    assert cfg["epochs"] == 15 and cfg["batch_size"] == 64 and cfg["val_split"] == 0.1
    assert set(cfg) == set(BASE_DEFAULTS) | {"spec"}


def test_choosing_adam_without_lr_takes_adams_learning_rate():
    assert resolve_config({"optimizer": "adam"})["lr"] == 1e-3
    assert resolve_config({"optimizer": "adam", "lr": 0.01})["lr"] == 0.01
    assert resolve_config({"optimizer": "adamw"})["weight_decay"] == 0.01


def test_model_defaults_and_hidden():
    cnn = resolve_config({"model": "cnn"})
    assert cnn["optimizer"] == "adam" and cnn["spec"]["name"] == "cnn"
    assert resolve_config({"hidden": 64})["spec"] == {"name": "mlp", "hidden": 64}
    deep = resolve_config({"model": "mlp-deep", "hidden": [128, 64]})
    assert deep["spec"]["hidden"] == [128, 64] and deep["spec"]["dropout"] == 0.2
    assert resolve_config({"model": {"name": "mlp", "hidden": 5}})["hidden"] == 5


@pytest.mark.parametrize("user, words", [
    ({"model": "vgg"}, "unknown model 'vgg'"),
    ({"optimizer": "lbfgs"}, "--optimizer must be one of sgd, adam"),
    ({"scheduler": "warmup"}, "--scheduler must be one of"),
    ({"epochs": 0}, "--epochs must be an integer >= 1"),
    ({"batch_size": 2.5}, "--batch-size must be an integer"),
    ({"lr": 0}, "--lr must be a number > 0"),
    ({"lr": float("nan")}, "--lr must be a number"),
    ({"val_split": 1.0}, "--val-split must be a number >= 0.0 and < 1.0"),
    ({"momentum": 1.5}, "--momentum"),
    ({"patience": 3, "val_split": 0.0}, "--patience needs a validation set"),
    ({"learning_rate": 0.1}, "unknown training setting(s) learning_rate"),
    ({"hidden": 0}, "hidden must be an integer"),
])
def test_bad_settings_raise_config_error(user, words):
    with pytest.raises(ConfigError) as info:
        resolve_config(user)
    assert words in str(info.value)


def test_config_file_flat_keys_like_tune_best_json(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({"lr": 0.02, "batch_size": 128, "optimizer": "sgd",
                                "val_acc": 0.97}))
    assert read_config_file(path) == {"lr": 0.02, "batch_size": 128, "optimizer": "sgd"}


def test_config_file_from_a_run_config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"format_version": 1, "model": {"name": "mlp", "hidden": 50},
                                "dataset": "mnist", "seed": 3, "classes": [],
                                "hyperparameters": {"epochs": 4, "lr": 0.1}}))
    cfg = resolve_config(read_config_file(path))
    assert cfg["spec"]["hidden"] == 50 and cfg["epochs"] == 4 and cfg["seed"] == 3


@pytest.mark.parametrize("text, words", [
    ("{", "invalid JSON"),
    ('{"lrr": 1}', "unknown setting(s) lrr"),
    ("[]", "expected a JSON object"),
])
def test_bad_config_files(tmp_path, text, words):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert words in str(info.value) and str(path) in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="missing"):
        read_config_file(tmp_path / "nope.json")


def test_a_learning_rate_beyond_any_that_trains_is_refused():
    assert resolve_config({"lr": 1e6})["lr"] == 1e6           # diverges, and says so
    with pytest.raises(ConfigError, match=r"--lr must be a number > 0.0 and < 1000000000.0, "
                                          r"got 1e\+308"):
        resolve_config({"lr": 1e308})
