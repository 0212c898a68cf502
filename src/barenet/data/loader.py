"""Mini-batches: ``DataLoader`` (shuffled per epoch, resumable) and ``random_split``.

The dataset stays in its compact storage (uint8 images); each batch is gathered and passed
through ``transform`` (e.g. ``Normalize``) on the fly, so memory holds one float batch at a time.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import CheckpointError, ConfigError
from ..nn.init import as_generator


class DataLoader:
    """Iterate over ``(x, y)`` mini-batches of ``images`` and ``labels``.

    Args:
        images: (N, ...) array, kept as is (uint8 for image datasets).
        labels: (N,) array.
        batch_size: samples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: draw a new permutation from ``rng`` at the start of every epoch.
        rng: Generator or int seed (a fresh unseeded Generator if None).
        drop_last: skip the final incomplete batch.
        transform: applied to each image batch, e.g. uint8 (B, 28, 28) -> float32 (B, 784).
        indices: optional (M,) ints: iterate over ``images[indices]`` without copying that
            subset (a train/validation split of a large array costs no memory).

    Every batch is a fresh array (never a view of ``images``), so transforms may work in place.
    ``state_dict()`` holds the generator state (JSON-able); loading it into a new loader gives
    the same order for every following epoch.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 64,
                 shuffle: bool = False, rng: np.random.Generator | int | None = None,
                 drop_last: bool = False,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None,
                 indices: np.ndarray | None = None) -> None:
        if not isinstance(images, np.ndarray) or images.ndim < 1:
            raise TypeError("DataLoader: images must be a NumPy array with a batch dimension")
        labels = np.asarray(labels)
        if labels.ndim < 1 or len(labels) != len(images):
            raise ValueError(f"DataLoader: {len(images)} images but labels of shape "
                             f"{labels.shape}, expected ({len(images)},)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if transform is not None and not callable(transform):
            raise TypeError("DataLoader: transform must be callable or None")
        if indices is not None:
            indices = np.asarray(indices)
            if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer) or (
                    len(indices) and (indices.min() < 0 or indices.max() >= len(images))):
                raise ValueError(f"DataLoader: indices must be a 1-D int array within "
                                 f"[0, {len(images)}), got shape {indices.shape}, "
                                 f"dtype {indices.dtype}")
        self.images = images
        self.labels = labels
        self.indices = indices
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.rng = as_generator(rng, "DataLoader")
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self.labels) if self.indices is None else len(self.indices)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Start an epoch: the permutation is drawn now, not at the first batch."""
        order = self.rng.permutation(self.num_samples) if self.shuffle else None
        self.epoch += 1
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = self.num_samples
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, n), self.batch_size):
            end = min(start + self.batch_size, n)
            if order is None and self.indices is None:  # copy: never alias the stored data
                x, y = self.images[start:end].copy(), self.labels[start:end].copy()
            else:  # fancy indexing copies
                idx = order[start:end] if order is not None else slice(start, end)
                if self.indices is not None:
                    idx = self.indices[idx]
                x, y = self.images[idx], self.labels[idx]
            yield (self.transform(x) if self.transform is not None else x), y

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: the generator's ``bit_generator.state`` and the epoch counter."""
        return {"rng": copy.deepcopy(self.rng.bit_generator.state), "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from ``state_dict()``; raises CheckpointError if it does not fit."""
        if not isinstance(state, dict) or not isinstance(state.get("rng"), dict):
            raise CheckpointError("DataLoader state: expected a dict with an 'rng' dict")
        kind = self.rng.bit_generator.state.get("bit_generator")
        if state["rng"].get("bit_generator") != kind:
            raise CheckpointError(f"DataLoader state: generator "
                                  f"{state['rng'].get('bit_generator')!r}, expected {kind!r}")
        try:
            self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        except (TypeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"DataLoader state: invalid generator state ({exc})") from None
        epoch = state.get("epoch", 0)
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise CheckpointError(f"DataLoader state: epoch must be a non-negative int, "
                                  f"got {epoch!r}")
        self.epoch = epoch

    def __repr__(self) -> str:
        return (f"DataLoader(n={self.num_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})")


def random_split(n: int, val_fraction: float, rng: np.random.Generator | int | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` at random into sorted ``(train_idx, val_idx)`` int64 arrays.

    ``round(n * val_fraction)`` samples go to validation; ``val_fraction`` in [0, 1).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"random_split: n must be a non-negative integer, got {n!r}")
    try:
        frac = float(val_fraction)
    except (TypeError, ValueError):
        raise ConfigError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}") from None
    if not 0.0 <= frac < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    n_val = int(round(n * frac))
    perm = as_generator(rng, "random_split").permutation(int(n))
    return np.sort(perm[n_val:]).astype(np.int64), np.sort(perm[:n_val]).astype(np.int64)
