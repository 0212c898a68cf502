"""``Run``: a trained model loaded from a run directory, ready for inference.

``load_run`` (checkpoint.py) makes one; training makes one to draw its figures. The file names
and format version of a run directory live here too, so writers and readers agree on them.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..data.facts import MAX_SIDE, spec_from_facts
from ..data.specs import SPECS, DatasetSpec
from ..data.transforms import Normalize
from ..errors import CheckpointError, DataError
from ..models import input_shape
from ..nn.functional import softmax
from ..nn.module import Module
from . import memory
from .fileio import read_json

CONFIG, WEIGHTS, TRAINER, METRICS = "config.json", "weights.npz", "trainer.json", "metrics.csv"
FORMAT_VERSION = 2   # of config.json; 2: the architecture and input_shape are stored, 1: a spec
EVAL_BATCH = 1000
#: What one evaluation batch may take when the free memory cannot be read.
MAX_EVAL_BYTES = 4 << 30
#: The ``model`` name of a run whose architecture came from no preset (``barenet.save_run``).
CUSTOM = "custom"


def image_side(shape: Any) -> int | None:
    """S for an input shape [S*S] or [1, S, S] (1 <= S <= MAX_SIDE), else None."""
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in shape):
        return None
    if len(shape) == 3 and shape[0] == 1 and shape[1] == shape[2] and 1 <= shape[1] <= MAX_SIDE:
        return shape[1]
    if len(shape) == 1 and 1 <= shape[0] <= MAX_SIDE ** 2:
        side = math.isqrt(shape[0])
        return side if side * side == shape[0] else None
    return None


def run_dataset_spec(config: dict[str, Any], where: Any, image_size: int = 28) -> DatasetSpec:
    """The facts of a run's dataset: its recorded ``dataset_facts`` (a folder's; checked,
    CheckpointError naming ``where``), else the built-in spec of its ``dataset`` name, else
    (a dataset this barenet does not know) a spec with the run's classes and ``image_size``
    and no files, so the run still predicts but has no data to read."""
    if "dataset_facts" in config:
        try:
            return spec_from_facts(config["dataset_facts"], f"{where}: 'dataset_facts'")
        except DataError as exc:
            raise CheckpointError(str(exc)) from None
    name = str(config.get("dataset", ""))
    known = SPECS.get(name.strip().lower().replace("_", "-"))
    if known is not None:
        return known
    return DatasetSpec(name=name, classes=tuple(str(c) for c in config.get("classes", ())),
                       mean=0.0, std=1.0, sha256={}, md5={}, mirrors=(),
                       image_size=(image_size, image_size))


class Run:
    """A trained model loaded from a run directory, ready for inference.

    Attributes: ``model`` (eval mode, float32), ``config`` (dict), ``normalize`` (Normalize),
    ``classes`` (list[str]), ``dataset`` (name), ``spec`` (the preset's spec, or
    ``{"name": "custom"}``), ``name`` (the preset's name or "custom"), ``input_shape`` (per
    sample: (784,) or (1, 28, 28) for MNIST), ``input_kind`` ("flat"/"image"), ``run_dir``
    (Path), ``image_size`` (the side S of the (S, S) images it takes) and ``dataset_spec``
    (the facts of its dataset: ``run_dataset_spec``). ``sample_bytes``: what one sample
    costs a forward pass, from the layers' records (set by ``load_run``; None if unknown).
    """

    def __init__(self, run_dir: Path, config: dict[str, Any], model: Module,
                 normalize: Normalize) -> None:
        self.run_dir = run_dir
        self.config = config
        self.model = model
        self.normalize = normalize
        spec = config.get("model")
        self.spec: dict[str, Any] = dict(spec) if isinstance(spec, dict) else {"name": CUSTOM}
        self.name = str(self.spec.get("name", CUSTOM))
        shape = config.get("input_shape")
        self.input_shape: tuple[int, ...] = (tuple(shape) if isinstance(shape, list)
                                             else input_shape(self.spec))
        self.input_kind = "flat" if len(self.input_shape) == 1 else "image"
        self.classes: list[str] = list(config["classes"])
        self.dataset: str = config["dataset"]
        self.image_size: int = image_side(list(self.input_shape)) or 28
        self.dataset_spec: DatasetSpec = run_dataset_spec(config, run_dir / CONFIG,
                                                          self.image_size)
        self.sample_bytes: int | None = None

    def batch_size(self, limit: int = EVAL_BATCH) -> int:
        """The batch (at most ``limit``) whose forward pass takes at most half the memory
        available now (or ``MAX_EVAL_BYTES`` when that cannot be read), from
        ``sample_bytes``; ``limit`` when that is unknown. At least 1."""
        if not self.sample_bytes:
            return limit
        available = memory.available_memory()
        budget = MAX_EVAL_BYTES if available is None else available // 2
        return max(1, min(limit, budget // self.sample_bytes))

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (B, S, S) or one (S, S), S = ``image_size`` (28 for MNIST) -> the
        model's float32 input, (B, S*S) or (B, 1, S, S)."""
        x = np.asarray(images)
        if x.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixel images, got dtype {x.dtype}")
        side = (self.image_size, self.image_size)
        if x.shape == side:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != side:
            raise ValueError(f"expected images of shape (B, {side[0]}, {side[1]}), "
                             f"got {x.shape}")
        return self.normalize(x)

    def logits(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """float32 logits (B, K) for uint8 images (B, S, S), computed in batches (by default
        as large as fit in memory: ``batch_size()``)."""
        batch_size = batch_size or self.batch_size()
        x = self.preprocess(images)
        self.model.eval()
        out = [self.model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """float32 class probabilities (B, K) for uint8 images (B, S, S)."""
        return softmax(self.logits(images), axis=1).astype(np.float32, copy=False)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """int64 predicted classes (B,) for uint8 images (B, S, S)."""
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


__all__ = ["CONFIG", "CUSTOM", "EVAL_BATCH", "FORMAT_VERSION", "METRICS", "Run", "TRAINER",
           "WEIGHTS"]
