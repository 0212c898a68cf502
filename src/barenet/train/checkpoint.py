"""Run directories: save a model with everything needed to use it, and load it back.

A run directory holds::

    config.json     format_version, barenet_version, architecture (the model as JSON, see
                    nn/architecture.py), input_shape ([784] or [1, 28, 28] for MNIST), model
                    (the preset's spec, or {"name": "custom"}), dataset, preprocessing
                    (Normalize.to_dict()), classes; a trained run adds hyperparameters, seed,
                    test_accuracy, ...; one trained on a folder adds data_dir and
                    dataset_facts (data/facts.py: classes, size, counts, checksums, ...)
    weights.npz     the model to use (the best epoch by validation accuracy)
    metrics.csv     one row per epoch (trained runs)
    trainer.json    progress: epoch, history, best epoch (for people and tools)
    resume.npz      everything ``barenet train --resume`` needs, in one file (see resume.py)

``save_run(run_dir, model, dataset=...)`` saves any Sequential of built-in layers; training
writes its runs with ``write_run``. Every file is written atomically. ``load_run`` rebuilds the
model from the architecture alone, after checking it (types, arguments, sizes, shapes) and then
every weight's name, shape and dtype, before using anything. Format 1 runs (from before
architectures were stored) hold only the preset's spec, and are rebuilt from it as before.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ..atomic import atomic_save_npz, atomic_write_json
from ..data.facts import MAX_SIDE
from ..data.transforms import Normalize
from ..errors import BarenetError, CheckpointError
from ..models import architecture_of, input_shape
from ..nn.architecture import ArchitectureError, build, validate
from ..nn.architecture_shapes import output_shape
from ..nn.module import Module
from .fileio import (
    NpzArchive,
    brief,
    name_list,
    printable,
    quoted,
    read_json,
    remove_stale_temp_files,
)
from .load_checks import OPTIONAL_SUFFIX, check_counts, check_load_memory
from .run import (
    CONFIG,
    CUSTOM,
    EVAL_BATCH,
    FORMAT_VERSION,
    METRICS,
    TRAINER,
    WEIGHTS,
    Run,
    image_side,
    run_dataset_spec,
)
from .save import save_run

MAX_PROBLEMS = 5      # weight mismatches listed in one message
MAX_LINE = 400        # characters of one error message
MAX_CLASS_NAME = 255  # characters of one class name (a folder's name is at most 255 bytes)


def save_weights(path: str | os.PathLike, state: dict[str, np.ndarray]) -> Path:
    """Atomically write a state_dict (name -> array) as an ``.npz``."""
    return atomic_save_npz(path, {k: np.asarray(v) for k, v in state.items()})


def write_run(run_dir: str | os.PathLike, model: Module | None, config: dict[str, Any],
              weights: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``config.json`` and ``weights.npz`` (``weights`` if given, else the model's
    state_dict) into ``run_dir``, creating it. ``config`` gets ``format_version`` and
    ``barenet_version`` if it lacks them. Returns the run directory. (Training's writer; use
    ``save_run`` for a model of your own.)"""
    from .. import __version__

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(run_dir)
    if weights is None and model is not None:
        weights = model.state_dict()
    if weights is not None:
        save_weights(run_dir / WEIGHTS, weights)
    config = {"format_version": FORMAT_VERSION, "barenet_version": __version__, **config}
    atomic_write_json(run_dir / CONFIG, config)
    return run_dir


def weight_problems(arrays: Mapping[str, Any], model: Module) -> list[str]:
    """Every mismatch between saved ``arrays`` and ``model``'s state: missing, unexpected,
    wrong shape, wrong dtype, non-finite values. Empty when they fit. ``arrays`` may hold
    ``fileio.Member`` headers (names, shapes and dtypes checked before anything is unpacked)
    or arrays (then the values are checked too). Lists of names are cut short."""
    own = model.state_dict()
    problems = []
    # BatchNorm's batch counter is optional both ways, as in load_state_dict (and PyTorch).
    missing = [k for k in own if k not in arrays and not k.endswith(OPTIONAL_SUFFIX)]
    unexpected = [k for k in arrays if k not in own and not k.endswith(OPTIONAL_SUFFIX)]
    if missing:
        problems.append(name_list("missing", missing))
    if unexpected:
        problems.append(name_list("unexpected", unexpected))
    for k, want in own.items():
        got = arrays.get(k)
        if got is None or len(problems) >= MAX_PROBLEMS:
            continue
        if tuple(got.shape) != want.shape:
            problems.append(f"{k} has shape {brief(tuple(got.shape), 60)}, expected "
                            f"{want.shape}")
        elif got.dtype != want.dtype:
            problems.append(f"{k} has dtype {got.dtype}, expected {want.dtype}")
        elif isinstance(got, np.ndarray) and got.dtype.kind == "f" and \
                not np.all(np.isfinite(got)):
            problems.append(f"{k} holds NaN or infinite values")
    if len(problems) >= MAX_PROBLEMS:
        problems.append("...")
    return problems


def load_weights_into(model: Module, path: str | os.PathLike) -> None:
    """Read ``path`` and load it into ``model`` after checking every name, shape and dtype
    from the archive's headers, and every value once unpacked."""
    with NpzArchive(path) as npz:
        _load_from(npz, model)


def _load_from(npz: NpzArchive, model: Module) -> None:
    """Check an open archive's headers against ``model``, then unpack it, check the values
    and load them; CheckpointError naming the file."""
    problems = weight_problems(npz.members, model)
    arrays = {} if problems else npz.read()
    problems = problems or weight_problems(arrays, model)
    if problems:
        raise CheckpointError(brief(f"{npz.path}: does not match the model: "
                                    + "; ".join(problems), MAX_LINE))
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


def _require(config: dict[str, Any], key: str, kind: type | tuple, path: Path) -> Any:
    value = config.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise CheckpointError(f"{path}: '{key}' must be a {names}, got {quoted(value)}")
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
    if "architecture" in config:
        _require(config, "architecture", dict, path)
        shape = config.get("input_shape")
        if image_side(shape) is None:
            raise CheckpointError(f"{path}: 'input_shape' must be [784] or [1, 28, 28] "
                                  f"(MNIST), or [S*S] or [1, S, S] for S up to {MAX_SIDE}, "
                                  f"got {str(shape)[:40]}")
    if "model" in config or "architecture" not in config:
        spec = _require(config, "model", dict, path)
        if not isinstance(spec.get("name"), str):
            raise CheckpointError(f"{path}: 'model' needs a 'name', got {str(spec)[:60]}")
    _require(config, "dataset", str, path)
    _require(config, "preprocessing", dict, path)
    classes = _require(config, "classes", list, path)
    if not classes or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(f"{path}: 'classes' must be a non-empty list of names")
    long = next((c for c in classes if len(c) > MAX_CLASS_NAME), None)
    if long is not None:
        raise CheckpointError(f"{path}: class name {quoted(long, 40)} is longer than "
                              f"{MAX_CLASS_NAME} characters")
    if "dataset_facts" in config:
        spec = run_dataset_spec(config, path)
        if list(spec.classes) != classes:
            raise CheckpointError(f"{path}: 'classes' are not those of 'dataset_facts'")
    return config


MAX_SOURCES = 64   # layers of one's own a run may name


def layer_sources(config: dict[str, Any]) -> dict[str, str]:
    """For each layer of one's own a run's config.json names ("layers": {name: {"module",
    "file"}}, written by ``save_run``), where it came from: its file, else its module. Strings
    are escaped and cut; anything malformed is ignored (the layer is then reported unknown)."""
    entries = config.get("layers")
    if not isinstance(entries, dict):
        return {}
    out = {}
    for name, entry in list(entries.items())[:MAX_SOURCES]:
        if isinstance(name, str) and isinstance(entry, dict):
            where = entry.get("file") or entry.get("module")
            if isinstance(where, str) and where:
                out[name] = printable(where)
    return out


def _describe(config: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, ...]]:
    """(architecture, input shape) of a checked config: its architecture (checked against its
    preset's, its input shape and its classes) or, in format 1, its preset's (checked the same
    way, size limits included). Nothing is built."""
    if "architecture" not in config:
        spec = config["model"]
        arch = architecture_of(spec)
        shape = input_shape(spec)
    else:
        arch = validate(config["architecture"], sources=layer_sources(config))
        spec = config.get("model", {"name": CUSTOM})
        if spec.get("name") != CUSTOM and architecture_of(spec) != arch:
            raise CheckpointError(f"'architecture' does not match the model {brief(spec, 80)} "
                                  "(one of them was edited); remove the wrong one to use the "
                                  "other")
        shape = tuple(config["input_shape"])
    out = output_shape(arch, shape)
    if out != (len(config["classes"]),):
        raise CheckpointError(f"the architecture outputs {list(out)} per sample, expected "
                              f"[{len(config['classes'])}], one score per class")
    return arch, tuple(shape)


def _build(config: dict[str, Any]) -> Module:
    """The model of a checked config (see ``_describe``)."""
    return build(_describe(config)[0], rng=0)


def load_run(run_dir: str | os.PathLike, weights: str = WEIGHTS) -> Run:
    """Load a run directory for inference; CheckpointError (naming the file) on any problem:
    missing directory or file, bad JSON, newer format, unknown model or layer, a description
    too large or inconsistent, a model that would not fit in memory, weights that do not fit
    (their sizes compared from the archive's headers before the model is built)."""
    run_dir = Path(run_dir)
    config = load_config(run_dir)
    path = run_dir / CONFIG
    with _one_line(config, path):
        arch, shape = _describe(config)
        normalize = Normalize.from_dict(config["preprocessing"])
        per_sample = check_load_memory(arch, shape)
    if normalize.flatten != (len(shape) == 1):
        raise CheckpointError(f"{path}: model {printable(_name(config))!r} takes input "
                              f"{list(shape)} but preprocessing has "
                              f"flatten={str(normalize.flatten).lower()}")
    with NpzArchive(run_dir / weights) as npz:
        check_counts(npz.members, arch, run_dir / weights)
        with _one_line(config, path):
            model = build(arch, rng=0)
        _load_from(npz, model)
    model.eval()
    run = Run(run_dir, config, model, normalize)
    run.sample_bytes = per_sample
    return run


@contextmanager
def _one_line(config: dict[str, Any], path: Path) -> Iterator[None]:
    """Any failure to describe, check or build a run's model as one CheckpointError line."""
    try:
        yield
    except (BarenetError, ArchitectureError) as exc:
        raise CheckpointError(f"{path}: {brief(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - a builder choking on a damaged spec
        raise CheckpointError(f"{path}: cannot build the model {brief(config.get('model'), 60)} "
                              f"({type(exc).__name__}: {brief(exc, 120)})") from None


def _name(config: dict[str, Any]) -> str:
    spec = config.get("model")
    return str(spec.get("name", CUSTOM)) if isinstance(spec, dict) else CUSTOM


__all__ = ["CONFIG", "CUSTOM", "EVAL_BATCH", "FORMAT_VERSION", "METRICS", "Run", "TRAINER",
           "WEIGHTS", "check_format_version", "check_load_memory", "load_config", "load_run",
           "load_weights_into", "save_run", "save_weights", "weight_problems", "write_run"]
