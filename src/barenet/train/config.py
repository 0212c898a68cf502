"""Training configurations: the defaults, per-model and per-optimizer defaults, validation.

A config is a flat dict whose keys match ``barenet train``'s flags (``batch_size`` for
``--batch-size``). ``resolve_config(user)`` fills every key the user left out (or set to None)
and checks every value, raising ConfigError with the flag's name.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, ConfigError
from ..models import build_model, get_entry, resolve_spec
from ..models.checks import DATA_KEYS
from ..optim.scheduler_base import MAX_LR

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau")

#: The defaults of ``barenet train`` with no options: the classic MLP on MNIST.
BASE_DEFAULTS: dict[str, Any] = {
    "dataset": "mnist", "model": "mlp", "hidden": None, "epochs": 15, "batch_size": 64,
    "lr": 0.05, "optimizer": "sgd", "momentum": 0.9, "weight_decay": 5e-4,
    "scheduler": "cosine", "seed": 0, "val_split": 0.1, "augment": False, "patience": 0,
    "limit_train": None, "limit_test": None, "data_dir": None, "diagnostics": False,
    "clip_grad_norm": None,
}
#: What an optimizer chosen by the user (without --lr etc.) starts from.
OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
    "adam": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
    "adamw": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.01},
    "rmsprop": {"lr": 1e-3, "momentum": 0.0, "weight_decay": 0.0},
}
#: Training settings per model, where the base defaults do not suit it (a registry entry's
#: own ``train`` dict is applied on top of these).
MODEL_TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp-deep": {"epochs": 15, "batch_size": 128, "lr": 0.1},
    "lenet5": {"epochs": 12, "batch_size": 64, "optimizer": "adam", "lr": 2e-3,
               "weight_decay": 0.0, "scheduler": "onecycle"},
    "cnn": {"epochs": 12, "batch_size": 64, "optimizer": "adam", "lr": 2e-3,
            "weight_decay": 0.0, "scheduler": "onecycle"},
    "cnn-large": {"epochs": 20, "batch_size": 128, "optimizer": "adam", "lr": 3e-3,
                  "weight_decay": 0.0, "scheduler": "onecycle", "augment": True},
}
#: Keys of the hyperparameters block of config.json (the rest are stored at the top level).
HYPERPARAMETERS = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay",
                   "scheduler", "val_split", "augment", "patience", "limit_train", "limit_test",
                   "diagnostics", "clip_grad_norm")
#: Keys a config file may carry that describe a result rather than a setting (ignored).
IGNORED_KEYS = {"format_version", "barenet_version", "preprocessing", "classes", "created",
                "architecture", "input_shape",
                "test_accuracy", "test_loss", "val_accuracy", "val_acc", "best_epoch",
                "epochs_completed", "stopped_early", "training_seconds", "value", "trial",
                "seconds", "status", "searched_with", "note", "from", "settings_changed"}


def model_name(model: Any) -> str:
    """The model name of a config's ``model`` value (a name or a spec dict)."""
    return model.get("name") if isinstance(model, dict) else model


def defaults_for(user: dict[str, Any]) -> dict[str, Any]:
    """The defaults that apply given the user's choices of model and optimizer."""
    name = model_name(user.get("model") or BASE_DEFAULTS["model"])
    entry = get_entry(name)
    out = {**BASE_DEFAULTS, **MODEL_TRAIN_DEFAULTS.get(name, {}), **entry.train, "model": name}
    opt = user.get("optimizer")
    if opt is not None and opt != out["optimizer"] and opt in OPTIMIZER_DEFAULTS:
        out.update(OPTIMIZER_DEFAULTS[opt], optimizer=opt)
    return out


def _int(config: dict, key: str, low: int, allow_none: bool = False) -> None:
    v = config[key]
    if allow_none and v is None:
        return
    if isinstance(v, float) and v.is_integer():
        v = config[key] = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(f"--{key.replace('_', '-')} must be an integer >= {low}, got {v!r}")


def _float(config: dict, key: str, low: float, high: float | None = None,
           low_open: bool = False) -> None:
    v = config[key]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and \
        (v > low if low_open else v >= low) and (high is None or v < high)
    if not ok:
        rng = f"> {low}" if low_open else f">= {low}"
        rng += f" and < {high}" if high is not None else ""
        raise ConfigError(f"--{key.replace('_', '-')} must be a number {rng}, got {v!r}")
    config[key] = float(v)


def _choice(config: dict, key: str, choices: tuple[str, ...]) -> None:
    v = config[key]
    if isinstance(v, str):
        v = config[key] = v.lower()
    if v not in choices:
        raise ConfigError(f"--{key.replace('_', '-')} must be one of {', '.join(choices)}, "
                          f"got {v!r}")


def resolve_config(user: dict[str, Any]) -> dict[str, Any]:
    """A complete, checked config from the user's settings (None means "the default").

    Returns a new dict with every key of ``BASE_DEFAULTS`` plus ``spec`` (the full model spec).
    Raises ConfigError on an unknown key, model, optimizer, scheduler or a value out of range.
    """
    unknown = sorted(set(user) - set(BASE_DEFAULTS) - {"spec"})
    if unknown:
        raise ConfigError(f"unknown training setting(s) {', '.join(unknown)}; expected some of "
                          f"{', '.join(BASE_DEFAULTS)}")
    given = {k: v for k, v in user.items() if v is not None}
    if isinstance(given.get("model"), dict):
        given["spec"] = given["model"]
    if isinstance(given.get("spec"), dict):
        given["model"] = given["spec"].get("name")
    config = {**defaults_for(given), **given}
    spec = dict(given["spec"]) if isinstance(given.get("spec"), dict) else {"name": config["model"]}
    if config["hidden"] is not None:
        spec["hidden"] = config["hidden"]
    _fit_to_dataset(config, spec)
    config["spec"] = resolve_spec(spec)
    build_model(config["spec"], rng=0)  # check the settings' values now, before any data
    config["model"] = config["spec"]["name"]
    config["hidden"] = config["spec"].get("hidden")
    _choice(config, "optimizer", OPTIMIZERS)
    _choice(config, "scheduler", SCHEDULERS)
    for key, low in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("patience", 0)):
        _int(config, key, low)
    _int(config, "limit_train", 2, allow_none=True)
    _int(config, "limit_test", 1, allow_none=True)
    _float(config, "lr", 0.0, MAX_LR, low_open=True)
    _float(config, "momentum", 0.0, 1.0)
    _float(config, "weight_decay", 0.0)
    _float(config, "val_split", 0.0, 1.0)
    for key in ("augment", "diagnostics"):
        if not isinstance(config[key], bool):
            raise ConfigError(f"--{key} must be true or false, got {config[key]!r}")
    _clip_threshold(config)
    if config["patience"] and config["val_split"] == 0:
        raise ConfigError("--patience needs a validation set: set --val-split above 0")
    if config["data_dir"] is not None:
        config["data_dir"] = os.fspath(config["data_dir"])
    return config


def _clip_threshold(config: dict[str, Any]) -> None:
    """``clip_grad_norm``: None (no clipping; also written "off" or "none", which is how a
    resumed run drops it) or the largest total L2 norm of a step's gradients, > 0."""
    v = config["clip_grad_norm"]
    if isinstance(v, str) and v.strip().lower() in ("off", "none"):
        v = config["clip_grad_norm"] = None
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    ok = v is None or (number and 0 < v <= sys.float_info.max)   # an int may be too big
    if not ok:
        shown = repr(v[:40]) if isinstance(v, str) else repr(v)[:40]
        raise ConfigError(f"--clip-grad-norm must be a number > 0 (or off), got {shown}")
    if v is not None:
        config["clip_grad_norm"] = float(v)


def _fit_to_dataset(config: dict[str, Any], spec: dict[str, Any]) -> None:
    """Check ``config["dataset"]`` (a name, or a folder: then made absolute, and replaced by
    ``data_dir`` if that is given) and give the model
    ``spec`` the dataset's number of classes and image size (``models.checks.DATA_KEYS``),
    left out where they are MNIST's so that MNIST specs stay as they always were."""
    from ..data.folder import dataset_spec, is_folder_name

    name = config["dataset"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"--dataset must be a name or a folder, got {name!r}")
    if is_folder_name(name):     # --data-dir, if given, is where the folder is now (resume)
        name = os.fspath(config["data_dir"]) if config["data_dir"] is not None else name
        name = config["dataset"] = str(Path(name).expanduser().resolve())
        config["data_dir"] = None
    facts = dataset_spec(name).input_facts
    for key, value in facts.items():
        if value == DATA_KEYS[key]:
            spec.pop(key, None)
        else:
            spec[key] = value


def dataset_record(dataset: str) -> dict[str, Any]:
    """What config.json records of a resolved ``dataset`` beyond its name: nothing for a
    built-in one; for a folder, its name as ``dataset``, the folder as ``data_dir`` and its
    facts (``data/facts.py``: classes, size, counts, mean/std, style, sha256) as
    ``dataset_facts``, so the run is used without the folder and verifies it when read."""
    from ..data.facts import spec_to_facts
    from ..data.folder import dataset_spec, is_folder_name

    if not is_folder_name(dataset):
        return {}
    spec = dataset_spec(dataset)
    return {"dataset": spec.name, "data_dir": dataset, "dataset_facts": spec_to_facts(spec)}


def flat_from_run_config(run_config: dict[str, Any]) -> dict[str, Any]:
    """The flat training config stored in a run's config.json (for --resume and --config)."""
    hyper = run_config.get("hyperparameters")
    spec = run_config.get("model")
    if not isinstance(hyper, dict) or not isinstance(spec, dict):
        raise CheckpointError("needs 'hyperparameters' and 'model' objects")
    flat = {k: hyper[k] for k in HYPERPARAMETERS if k in hyper}
    dataset = run_config.get("dataset")
    if "dataset_facts" in run_config:        # trained on a folder: train on it again
        dataset = run_config.get("data_dir")
    flat.update(spec=dict(spec), dataset=dataset, seed=run_config.get("seed"))
    return flat


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Settings from a JSON file: flat keys as the CLI flags (``tune``'s best.json), a
    ``{"config": {...}}`` wrapper, or a run's config.json. ConfigError naming the file on
    any problem or unknown key."""
    from .fileio import read_json

    path = Path(path)
    try:
        obj = read_json(path)
    except CheckpointError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(obj.get("config"), dict) and "hyperparameters" not in obj:
        obj = obj["config"]
    if isinstance(obj.get("hyperparameters"), dict):
        try:
            return flat_from_run_config(obj)
        except CheckpointError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    out = {k: v for k, v in obj.items() if k not in IGNORED_KEYS}
    if isinstance(out.get("model"), dict):
        out["spec"] = out.pop("model")
    unknown = sorted(set(out) - set(BASE_DEFAULTS) - {"spec"})
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; expected some of "
                          f"{', '.join(BASE_DEFAULTS)}")
    return out


__all__ = ["BASE_DEFAULTS", "HYPERPARAMETERS", "MODEL_TRAIN_DEFAULTS", "OPTIMIZERS",
           "OPTIMIZER_DEFAULTS", "SCHEDULERS", "dataset_record", "defaults_for",
           "flat_from_run_config", "read_config_file", "resolve_config"]
