"""Writing small dataset folders for the tests: the four IDX files of a learnable K-class set of
S x S images (a bright block whose place says the class), and optionally classes.txt."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from barenet.data.idx import write_idx

LETTERS = [chr(ord("A") + i) for i in range(26)]


def class_images(labels: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, side, side): faint noise plus a 3x3 bright block at a place per class."""
    images = rng.integers(0, 60, size=(len(labels), side, side)).astype(np.uint8)
    per_row = max(1, (side - 3) // 2)
    for i, label in enumerate(labels):
        r, c = divmod(int(label), per_row)
        r, c = (2 * r) % (side - 2), 2 * c
        images[i, r:r + 3, c:c + 3] = 255
    return images


def write_idx_folder(root: Path, num_classes: int = 26, side: int = 16, n_train: int = 312,
                     n_test: int = 78, gz: bool = True, names: list[str] | None = None,
                     seed: int = 0) -> Path:
    """Write ``root``/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (every class present in
    both splits) and, if ``names`` is given, ``root``/classes.txt; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % num_classes).astype(np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte{ext}", class_images(labels, side, rng))
        write_idx(root / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    if names is not None:
        (root / "classes.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return root
