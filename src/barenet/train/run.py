"""``Run``: a trained model loaded from a run directory, ready for inference.

``load_run`` (checkpoint.py) makes one; training makes one to draw its figures. The file names
and format version of a run directory live here too, so writers and readers agree on them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data.transforms import Normalize
from ..errors import CheckpointError
from ..models import input_shape
from ..nn.functional import softmax
from ..nn.module import Module
from .fileio import read_json

CONFIG, WEIGHTS, TRAINER, METRICS = "config.json", "weights.npz", "trainer.json", "metrics.csv"
FORMAT_VERSION = 2   # of config.json; 2: the architecture and input_shape are stored, 1: a spec
EVAL_BATCH = 1000
#: The ``model`` name of a run whose architecture came from no preset (``barenet.save_run``).
CUSTOM = "custom"


class Run:
    """A trained model loaded from a run directory, ready for inference.

    Attributes: ``model`` (eval mode, float32), ``config`` (dict), ``normalize`` (Normalize),
    ``classes`` (list[str]), ``dataset`` (name), ``spec`` (the preset's spec, or
    ``{"name": "custom"}``), ``name`` (the preset's name or "custom"), ``input_shape`` (per
    sample: (784,) or (1, 28, 28)), ``input_kind`` ("flat"/"image"), ``run_dir`` (Path).
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


__all__ = ["CONFIG", "CUSTOM", "EVAL_BATCH", "FORMAT_VERSION", "METRICS", "Run", "TRAINER",
           "WEIGHTS"]
