"""``save_run``: a model of your own saved as a run directory that every command can use.

config.json records the model's architecture as JSON (``nn/architecture.py``), the input it
takes per sample ((784,) or (1, 28, 28), read from its first layers unless given), the dataset's
normalisation (the ``Normalize`` training uses) and class names; weights.npz its state_dict.
``load_run`` rebuilds the model from config.json alone; ``barenet evaluate``, ``predict`` and
``serve`` work on the directory as on a trained run.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_save_npz, atomic_write_json, jsonable
from ..data.specs import get_spec
from ..data.transforms import Normalize
from ..errors import ConfigError
from ..nn.architecture import ArchitectureError, describe, user_layers, validate
from ..nn.architecture_shapes import infer_input_shape, output_shape
from ..nn.module import Module
from .run import CONFIG, CUSTOM, FORMAT_VERSION, WEIGHTS

#: Keys of config.json that ``save_run`` writes itself (``extra`` may not replace them).
RESERVED = ("format_version", "barenet_version", "model", "architecture", "input_shape",
            "dataset", "preprocessing", "classes", "layers")


def save_run(run_dir: str | os.PathLike, model: Module, dataset: str = "mnist",
             input_shape: tuple[int, ...] | None = None, classes: list[str] | None = None,
             extra: dict[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Save a model of your own as a run directory: config.json (its architecture as JSON,
    the input it takes, the dataset's normalisation and class names) and weights.npz.

    ``model``: any (nested) Sequential of registered layers: barenet's own and yours
    (``nn.register_layer``; config.json then names the module and file each of yours came
    from, and commands load it with ``--layers FILE.py``). ``input_shape``: per
    sample, (784,) or (1, 28, 28); by default read from the first layers (a Linear takes
    (784,); a Conv2d, Flatten or pooling (1, 28, 28)). ``classes``: default the dataset's.
    ``extra``: more JSON-able keys for config.json (e.g. ``{"test_accuracy": 0.98}``).
    ``run_dir`` must be absent or empty unless ``overwrite``. Weights are stored as float32.
    ``load_run``, ``barenet evaluate``, ``predict`` and ``serve`` then use it. Raises
    ConfigError, in one line, for a layer that is not registered or anything that does not fit.
    """
    from .. import __version__

    if not isinstance(model, Module):
        raise ConfigError(f"save_run: model must be a barenet Module, got "
                          f"{type(model).__name__}")
    spec = get_spec(dataset)
    try:
        arch = validate(describe(model))
        shape = _input_shape(arch, input_shape, spec.image_size, spec.name)
        names = list(spec.classes) if classes is None else _class_names(classes)
        out = output_shape(arch, shape)
    except ArchitectureError as exc:
        raise ConfigError(f"save_run: {exc}") from None
    if out != (len(names),):
        raise ConfigError(f"save_run: the model outputs {list(out)} per sample, expected "
                          f"[{len(names)}], one score per class")
    normalize = Normalize(spec.mean, spec.std, flatten=len(shape) == 1)
    config = {"format_version": FORMAT_VERSION, "barenet_version": __version__,
              "model": {"name": CUSTOM}, "architecture": arch, "input_shape": list(shape),
              "dataset": spec.name, "preprocessing": normalize.to_dict(), "classes": names,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    own = user_layers(model)
    if own:   # where each layer of your own came from, for the message when it is missing
        config["layers"] = own
    config.update(_extra(extra))
    weights = {k: v.astype(np.float32) if v.dtype.kind == "f" else v
               for k, v in model.state_dict().items()}
    bad = [k for k, v in weights.items() if v.dtype.kind == "f" and not np.all(np.isfinite(v))]
    if bad:
        raise ConfigError(f"save_run: {bad[0]} holds NaN or infinite values")
    run_dir = Path(run_dir)
    _claim(run_dir, overwrite)
    atomic_save_npz(run_dir / WEIGHTS, weights)
    atomic_write_json(run_dir / CONFIG, config)  # last: a config.json means a complete run
    return run_dir


def _input_shape(arch: dict[str, Any], given: Any, image_size: tuple[int, int],
                 dataset: str) -> tuple[int, ...]:
    """The per-sample input: ``given``, else read from the first layers; either must be one
    that the dataset's images give."""
    allowed = [(image_size[0] * image_size[1],), (1, *image_size)]
    hint = " or ".join(str(s) for s in allowed)
    if given is None:
        shape = infer_input_shape(arch, image_size)
        if shape is None:
            raise ArchitectureError(f"cannot tell the input the model takes from its first "
                                    f"layers; pass input_shape={hint}")
        if shape not in allowed:
            raise ArchitectureError(f"the model's first layers take input {shape}; {dataset}'s "
                                    f"images give {hint}")
        return shape
    if not isinstance(given, (list, tuple)) or tuple(given) not in allowed:
        raise ArchitectureError(f"input_shape must be {hint}, got {given!r}")
    return tuple(int(v) for v in given)


def _class_names(classes: Any) -> list[str]:
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes) or not classes:
        raise ArchitectureError(f"classes must be a non-empty list of names, got "
                                f"{str(classes)[:40]}")
    return list(classes)


def _extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    """``extra`` checked: a dict of JSON-able values whose keys are not ``RESERVED``."""
    if extra is None:
        return {}
    if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
        raise ConfigError(f"save_run: extra must be a dict with string keys, got "
                          f"{type(extra).__name__}")
    taken = sorted(set(extra) & set(RESERVED))
    if taken:
        raise ConfigError(f"save_run: extra may not set {', '.join(taken)} (save_run writes "
                          "them itself)")
    try:
        json.dumps(jsonable(extra), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"save_run: extra is not JSON-able ({exc})") from None
    return extra


def _claim(run_dir: Path, overwrite: bool) -> None:
    """Create ``run_dir`` (an atomic claim: only one process can), or accept it if it is an
    empty directory, or any directory when ``overwrite``."""
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"{run_dir}: cannot create ({exc.strerror or exc})") from None
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: exists and is not a directory")
    if not overwrite and any(run_dir.iterdir()):
        what = "already holds a run" if (run_dir / CONFIG).exists() else "is not empty"
        raise ConfigError(f"{run_dir}: {what}; choose another directory or pass "
                          "overwrite=True")


__all__ = ["RESERVED", "save_run"]
