"""Run directories: save a trained model with everything needed to use it, and load it back.

A run directory holds::

    config.json     format_version, barenet_version, model (spec), dataset, preprocessing
                    (Normalize.to_dict()), hyperparameters, seed, classes, test_accuracy, ...
    weights.npz     the model to use (the best epoch by validation accuracy)
    metrics.csv     one row per epoch
    trainer.json    progress: epoch, history, best epoch (for people and tools)
    resume.npz      everything ``barenet train --resume`` needs, in one file (see resume.py)

Every file is written atomically. ``load_run`` checks the format version and every weight's
name, shape and dtype against the model the spec builds before using anything.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..data.transforms import Normalize
from ..errors import BarenetError, CheckpointError
from ..models import build_model, model_input
from ..nn.functional import softmax
from ..nn.module import Module
from .fileio import atomic_save_npz, atomic_write_json, read_json, read_npz

FORMAT_VERSION = 1
CONFIG, WEIGHTS, TRAINER, METRICS = "config.json", "weights.npz", "trainer.json", "metrics.csv"
EVAL_BATCH = 1000
OPTIONAL_SUFFIX = "num_batches_tracked"


def save_weights(path: str | os.PathLike, state: dict[str, np.ndarray]) -> Path:
    """Atomically write a state_dict (name -> array) as an ``.npz``."""
    return atomic_save_npz(path, {k: np.asarray(v) for k, v in state.items()})


def save_run(run_dir: str | os.PathLike, model: Module | None, config: dict[str, Any],
             weights: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``config.json`` and ``weights.npz`` (``weights`` if given, else the model's
    state_dict) into ``run_dir``, creating it. ``config`` gets ``format_version`` and
    ``barenet_version`` if it lacks them. Returns the run directory."""
    from .. import __version__

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if weights is None and model is not None:
        weights = model.state_dict()
    if weights is not None:
        save_weights(run_dir / WEIGHTS, weights)
    config = {"format_version": FORMAT_VERSION, "barenet_version": __version__, **config}
    atomic_write_json(run_dir / CONFIG, config)
    return run_dir


def weight_problems(arrays: dict[str, np.ndarray], model: Module) -> list[str]:
    """Every mismatch between saved ``arrays`` and ``model``'s state: missing, unexpected,
    wrong shape, wrong dtype, non-finite values. Empty when they fit."""
    own = model.state_dict()
    problems = []
    # BatchNorm's batch counter is optional both ways, as in load_state_dict (and PyTorch).
    missing = [k for k in own if k not in arrays and not k.endswith(OPTIONAL_SUFFIX)]
    unexpected = [k for k in arrays if k not in own and not k.endswith(OPTIONAL_SUFFIX)]
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(unexpected))
    for k, want in own.items():
        got = arrays.get(k)
        if got is None:
            continue
        if got.shape != want.shape:
            problems.append(f"{k} has shape {got.shape}, expected {want.shape}")
        elif got.dtype != want.dtype:
            problems.append(f"{k} has dtype {got.dtype}, expected {want.dtype}")
        elif got.dtype.kind == "f" and not np.all(np.isfinite(got)):
            problems.append(f"{k} holds NaN or infinite values")
    return problems


def load_weights_into(model: Module, path: str | os.PathLike) -> None:
    """Read ``path`` and load it into ``model`` after checking every name, shape and dtype."""
    arrays = read_npz(path)
    problems = weight_problems(arrays, model)
    if problems:
        raise CheckpointError(f"{path}: does not match the model: " + "; ".join(problems))
    model.load_state_dict(arrays)


def check_format_version(config: dict[str, Any], path: Path) -> int:
    """The config's format version; CheckpointError if absent, invalid or newer than ours."""
    version = config.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: 'format_version' must be a positive integer, "
                              f"got {version!r}")
    if version > FORMAT_VERSION:
        made_by = config.get("barenet_version", "unknown")
        raise CheckpointError(f"{path}: made by a newer barenet ({made_by}, checkpoint format "
                              f"{version}; this barenet reads format {FORMAT_VERSION} and "
                              "older): upgrade barenet to load it")
    return version


class Run:
    """A trained model loaded from a run directory, ready for inference.

    Attributes: ``model`` (eval mode, float32), ``config`` (dict), ``normalize`` (Normalize),
    ``classes`` (list[str]), ``dataset`` (name), ``spec`` (model spec), ``input_kind``
    ("flat"/"image"), ``run_dir`` (Path).
    """

    def __init__(self, run_dir: Path, config: dict[str, Any], model: Module,
                 normalize: Normalize) -> None:
        self.run_dir = run_dir
        self.config = config
        self.model = model
        self.normalize = normalize
        self.spec: dict[str, Any] = config["model"]
        self.input_kind = model_input(self.spec)
        self.classes: list[str] = list(config["classes"])
        self.dataset: str = config["dataset"]

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (B, 28, 28) or one (28, 28) -> the model's float32 input, (B, 784)
        or (B, 1, 28, 28)."""
        x = np.asarray(images)
        if x.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixel images, got dtype {x.dtype}")
        if x.shape == (28, 28):
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"expected images of shape (B, 28, 28), got {x.shape}")
        return self.normalize(x)

    def logits(self, images: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
        """float32 logits (B, 10) for uint8 images (B, 28, 28), computed in batches."""
        x = self.preprocess(images)
        self.model.eval()
        out = [self.model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """float32 class probabilities (B, 10) for uint8 images (B, 28, 28)."""
        return softmax(self.logits(images), axis=1).astype(np.float32, copy=False)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """int64 predicted classes (B,) for uint8 images (B, 28, 28)."""
        return self.logits(images).argmax(axis=1).astype(np.int64)

    def data_dir(self, given: str | None = None, dataset: str | None = None) -> str | None:
        """Where to read test data: ``given`` (--data-dir), else the directory the run was
        trained from if it still exists and ``dataset`` is the run's own, else None (default
        places)."""
        if given is not None:
            return given
        saved = self.config.get("data_dir")
        if isinstance(saved, str) and Path(saved).is_dir() and dataset in (None, self.dataset):
            return saved
        return None

    @property
    def history(self) -> list[dict[str, Any]]:
        """Per-epoch records from trainer.json ([] if absent or unreadable)."""
        try:
            hist = read_json(self.run_dir / TRAINER).get("history", [])
        except CheckpointError:
            return []
        return [h for h in hist if isinstance(h, dict)] if isinstance(hist, list) else []

    def __repr__(self) -> str:
        return f"Run({str(self.run_dir)!r}, model={self.spec}, dataset={self.dataset!r})"


def _require(config: dict[str, Any], key: str, kind: type | tuple, path: Path) -> Any:
    value = config.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise CheckpointError(f"{path}: '{key}' must be a {names}, got {value!r}")
    return value


def load_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check a run's config.json (directory exists, JSON object, format version,
    required keys); CheckpointError naming the path otherwise."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: not a directory, expected a run directory")
    path = run_dir / CONFIG
    if not path.exists():
        raise CheckpointError(f"{path}: missing, so {run_dir} is not a barenet run directory")
    config = read_json(path)
    check_format_version(config, path)
    spec = _require(config, "model", dict, path)
    if not isinstance(spec.get("name"), str):
        raise CheckpointError(f"{path}: 'model' needs a 'name', got {spec!r}")
    _require(config, "dataset", str, path)
    _require(config, "preprocessing", dict, path)
    classes = _require(config, "classes", list, path)
    if not classes or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(f"{path}: 'classes' must be a non-empty list of names")
    return config


def load_run(run_dir: str | os.PathLike, weights: str = WEIGHTS) -> Run:
    """Load a run directory for inference; CheckpointError (naming the file) on any problem:
    missing directory or file, bad JSON, newer format, unknown model, weights that do not fit."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    path = run_dir / CONFIG
    try:
        model = build_model(config["model"], rng=0)
        normalize = Normalize.from_dict(config["preprocessing"])
    except BarenetError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a builder choking on a damaged spec
        raise CheckpointError(f"{path}: cannot build the model {config['model']} "
                              f"({type(exc).__name__}: {exc})") from None
    if model_input(config["model"]) == "flat" and not normalize.flatten:
        raise CheckpointError(f"{path}: model {config['model']['name']!r} takes flat input but "
                              "preprocessing has flatten=false")
    load_weights_into(model, run_dir / weights)
    model.eval()
    return Run(run_dir, config, model, normalize)


__all__ = ["CONFIG", "FORMAT_VERSION", "METRICS", "Run", "TRAINER",
           "WEIGHTS", "check_format_version", "load_config", "load_run", "load_weights_into",
           "save_run", "save_weights", "weight_problems"]
