"""MNIST and Fashion-MNIST: where the files are, how they are verified, and loading them fast.

Where files come from, in order:

1. ``data_dir`` if given: the four .gz files directly in it (a missing one is an error).
2. ``$BARENET_DATA/<name>`` if that variable is set (missing files are downloaded into it).
3. Local read-only copies: the MNIST copy inside the package; Debian's
   ``/usr/share/datasets/fashion-mnist``. Then the cache ``$XDG_CACHE_HOME/barenet/<name>``
   (default ``~/.cache/barenet/<name>``), downloading missing files into it.

Every file is checked against the sha256 of its *decompressed* IDX bytes, which is the same
for every copy however it was compressed; a fresh download is also checked by the md5 of the
official .gz. Verified arrays are kept in memory per (path, mtime, size), read-only.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .download import Progress, download_file, mirror_bases, mirror_urls
from .idx import check_images, check_labels, check_same_count, read_idx_with_sha256
from .specs import DATA_ENV, SPLITS, DatasetSpec, get_spec

@dataclass
class Dataset:
    """One split of a dataset: uint8 images (N, 28, 28) and int64 labels (N,), both read-only.

    ``mean``/``std`` are the training-set statistics of pixel/255 used for normalisation;
    ``files`` the paths read; ``sources`` where each came from (data_dir, BARENET_DATA,
    embedded, system, cache, downloaded).
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    mean: float
    std: float
    files: list[Path]
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
                f"image_size={self.images.shape[1:]})")


def default_data_dir(name: str) -> Path:
    """Where downloads of ``name`` go: $BARENET_DATA/<name>, else $XDG_CACHE_HOME/barenet/<name>,
    else ~/.cache/barenet/<name>."""
    root = os.environ.get(DATA_ENV)
    if root:
        return Path(root).expanduser() / name
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "barenet" / name


def _embedded_dir(spec: DatasetSpec) -> Path | None:
    if spec.embedded is None:
        return None
    from importlib.resources import files

    where = files(__package__.rpartition(".")[0]).joinpath(spec.embedded)
    return where if isinstance(where, Path) and where.is_dir() else None


def _candidates(spec: DatasetSpec) -> list[tuple[Path, str]]:
    """Directories to look in, in order, with a word saying what each is."""
    if os.environ.get(DATA_ENV):
        return [(default_data_dir(spec.name), DATA_ENV)]
    dirs = []
    embedded = _embedded_dir(spec)
    if embedded is not None:
        dirs.append((embedded, "embedded"))
    dirs += [(Path(d), "system") for d in spec.local_dirs]
    dirs.append((default_data_dir(spec.name), "cache"))
    return dirs


def locate_file(spec: DatasetSpec, file_name: str, data_dir: str | os.PathLike | None = None,
                download: bool = True, progress: Progress | None = None,
                mirrors: list[str] | str | None = None) -> tuple[Path, str]:
    """Find (or download) one file of ``spec``; returns ``(path, source)``."""
    if data_dir is not None:
        path = Path(data_dir).expanduser() / file_name
        if path.is_file():
            return path, "data_dir"
        if not path.parent.is_dir():
            raise DataError(f"{path.parent}: data directory not found")
        raise DataError(f"{path}: not found, the data directory must hold the {spec.name} "
                        f"files {', '.join(spec.files())}")
    candidates = _candidates(spec)
    for where, source in candidates:
        if (where / file_name).is_file():
            return where / file_name, source
    target = candidates[-1][0] / file_name
    if not download:
        looked = ", ".join(str(d) for d, _ in candidates)
        raise DataError(f"{spec.name}: {file_name} not found in {looked} and downloading is off")
    urls = mirror_urls(mirror_bases(spec.mirrors, mirrors), file_name)
    download_file(urls, target, spec.md5[file_name], progress=progress)
    return target, "downloaded"


_CACHE: dict[tuple, np.ndarray] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def clear_cache() -> None:
    """Forget every array kept in memory by ``load_dataset``."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _load_verified(path: Path, spec: DatasetSpec, kind: str) -> np.ndarray:
    """Read ``path``, check its sha256 and shape; cached per (path, mtime, size). Read-only."""
    file_name = path.name
    expected = spec.sha256[file_name]
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, expected, kind)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    array, got = read_idx_with_sha256(path)
    if got != expected:
        raise DataError(f"{path}: sha256 mismatch of the decompressed data, expected {expected}, "
                        f"got {got}; the file is corrupt or not the {spec.name} {file_name}")
    if kind == "images":
        check_images(array, str(path), spec.image_size)
    else:
        if array.ndim != 1:
            raise DataError(f"{path}: expected 1-D labels, got shape {array.shape}")
        array = check_labels(array, len(spec.classes), str(path))
    array.setflags(write=False)
    with _CACHE_LOCK:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = array
    return array


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}, expected one of: {', '.join(SPLITS)}")
    return split


def load_dataset(name: str, split: str, data_dir: str | os.PathLike | None = None,
                 download: bool = True, progress: Progress | None = None,
                 mirrors: list[str] | str | None = None) -> Dataset:
    """Load one split ("train" or "test") of dataset ``name`` ("mnist" or "fashion-mnist").

    Returns a ``Dataset`` with uint8 images (N, 28, 28) and int64 labels (N,). Raises
    ConfigError for an unknown name or split, DataError if a file is missing, corrupt or fails
    its checksum. ``progress(bytes_done, total)`` is called during downloads (reset to 0 at
    the start of each file); ``mirrors`` replaces the mirror base URLs.
    """
    spec = get_spec(name)
    _check_split(split)
    paths, sources, arrays = [], [], []
    for file_name, kind in zip(spec.splits[split], ("images", "labels")):
        path, source = locate_file(spec, file_name, data_dir, download, progress, mirrors)
        arrays.append(_load_verified(path, spec, kind))
        paths.append(path)
        sources.append(source)
    images, labels = arrays
    check_same_count(images, labels, str(paths[0]), str(paths[1]))
    return Dataset(name=spec.name, split=split, images=images, labels=labels,
                   classes=list(spec.classes), mean=spec.mean, std=spec.std,
                   files=paths, sources=sources)


def download_dataset(name: str, data_dir: str | os.PathLike | None = None,
                     progress: Progress | None = None,
                     mirrors: list[str] | str | None = None) -> list[Path]:
    """Make sure all four files of ``name`` are present and verified, downloading missing ones
    into ``data_dir`` (or the default data directory). Returns the four paths."""
    spec = get_spec(name)
    paths = []
    for file_name in spec.files():
        if data_dir is not None:
            path = Path(data_dir).expanduser() / file_name
            if not path.is_file():
                urls = mirror_urls(mirror_bases(spec.mirrors, mirrors), file_name)
                download_file(urls, path, spec.md5[file_name], progress=progress)
        else:
            path, _ = locate_file(spec, file_name, None, True, progress, mirrors)
        kind = "images" if "images" in file_name else "labels"
        _load_verified(path, spec, kind)
        paths.append(path)
    return paths


def pixel_stats(images: np.ndarray, chunk: int = 4096) -> tuple[float, float]:
    """Exact mean and standard deviation of pixel/255 over uint8 ``images`` (via a histogram)."""
    flat = images.reshape(len(images), -1) if images.ndim > 1 else images.reshape(-1, 1)
    hist = np.zeros(256, dtype=np.int64)
    for start in range(0, len(flat), chunk):
        hist += np.bincount(flat[start:start + chunk].reshape(-1), minlength=256)
    n = hist.sum()
    if n == 0:
        return float("nan"), float("nan")
    values = np.arange(256, dtype=np.float64) / 255.0
    mean = float(hist @ values) / n
    var = float(hist @ (values - mean) ** 2) / n
    return mean, var ** 0.5


def dataset_info(name: str, data_dir: str | os.PathLike | None = None, download: bool = False,
                 progress: Progress | None = None) -> dict:
    """A JSON-able summary: files used (path, source, sha256 verified), per-class counts for
    train and test, the normalisation mean/std and the measured training-set pixel mean/std."""
    spec = get_spec(name)
    splits = {s: load_dataset(spec.name, s, data_dir, download, progress) for s in SPLITS}
    files = []
    for split, ds in splits.items():
        for path, source, kind in zip(ds.files, ds.sources, ("images", "labels")):
            files.append({"file": path.name, "split": split, "kind": kind, "path": str(path),
                          "source": source, "sha256": spec.sha256[path.name], "verified": True})
    pixel_mean, pixel_std = pixel_stats(splits["train"].images)
    k = len(spec.classes)
    return {
        "name": spec.name,
        "classes": list(spec.classes),
        "image_size": list(spec.image_size),
        "num_samples": {s: len(ds) for s, ds in splits.items()},
        "counts": {s: np.bincount(ds.labels, minlength=k).tolist() for s, ds in splits.items()},
        "files": files,
        "mean": spec.mean,
        "std": spec.std,
        "pixel_mean": pixel_mean,
        "pixel_std": pixel_std,
    }
