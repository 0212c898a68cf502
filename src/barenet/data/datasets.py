"""MNIST and Fashion-MNIST: where the files are, how they are verified, and loading them fast.

Where files come from, in order:

1. ``data_dir`` if given: the four files directly in it, each plain or .gz (a missing one is
   an error). A folder given as the dataset itself is its own ``data_dir`` (``folder.py``).
2. ``$BARENET_DATA/<name>`` if that variable is set (missing files are downloaded into it).
3. Local read-only copies: the MNIST copy inside the package; Debian's
   ``/usr/share/datasets/fashion-mnist``. Then the cache ``$XDG_CACHE_HOME/barenet/<name>``
   (default ``~/.cache/barenet/<name>``), downloading missing files into it. A dataset
   without mirrors (a folder's, recorded in a run) is read only from ``data_dir``.

Every file is checked against the sha256 of its *decompressed* IDX bytes, which is the same
for every copy however it was compressed; a fresh download is also checked by the md5 of the
official .gz. Verified arrays are kept in memory per (path, mtime, size), read-only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from .download import Progress, download_file, mirror_bases, mirror_urls
from .folder import dataset_spec, is_folder_name, pixel_stats
from .idx import check_images, check_labels, check_same_count, read_idx_with_sha256
from .memo import cache_key, clear_cache, recall, remember  # noqa: F401 - clear_cache re-exported
from .specs import DATA_ENV, SPLITS, DatasetSpec, get_spec


@dataclass
class Dataset:
    """One split of a dataset: uint8 images (N, H, W) (28x28 for MNIST) and int64 labels (N,),
    both read-only.

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


def _other_name(file_name: str) -> str:
    """The same file with or without ``.gz`` (its sha256 is of the decompressed bytes)."""
    return file_name[:-3] if file_name.endswith(".gz") else file_name + ".gz"


def _no_mirrors(spec: DatasetSpec, file_name: str) -> DataError:
    return DataError(f"{spec.name}: {file_name} not found and this dataset has no download "
                     f"mirrors; use --data-dir DIR to name the folder holding its files")


def locate_file(spec: DatasetSpec, file_name: str, data_dir: str | os.PathLike | None = None,
                download: bool = True, progress: Progress | None = None,
                mirrors: list[str] | str | None = None) -> tuple[Path, str]:
    """Find (or download) one file of ``spec``; returns ``(path, source)``. In ``data_dir`` the
    file may also be stored with or without ``.gz``. DataError (one line, saying to use
    --data-dir) for a file found nowhere of a spec without mirrors."""
    if data_dir is not None:
        path = Path(data_dir).expanduser() / file_name
        for candidate in (path, path.with_name(_other_name(file_name))):
            if candidate.is_file():
                return candidate, "data_dir"
        if not path.parent.is_dir():
            raise DataError(f"{path.parent}: data directory not found")
        raise DataError(f"{path}: not found, the data directory must hold the {spec.name} "
                        f"files {', '.join(spec.files())}")
    candidates = _candidates(spec)
    for where, source in candidates:
        if (where / file_name).is_file():
            return where / file_name, source
    target = candidates[-1][0] / file_name
    if not spec.mirrors or file_name not in spec.md5:
        raise _no_mirrors(spec, file_name)
    if not download:
        looked = ", ".join(str(d) for d, _ in candidates)
        raise DataError(f"{spec.name}: {file_name} not found in {looked} and downloading is off")
    urls = mirror_urls(mirror_bases(spec.mirrors, mirrors), file_name)
    download_file(urls, target, spec.md5[file_name], progress=progress)
    return target, "downloaded"


def _load_verified(path: Path, spec: DatasetSpec, kind: str,
                   file_name: str | None = None) -> np.ndarray:
    """Read ``path`` (``spec``'s ``file_name``, default its own name), check its sha256 and
    shape; cached per (path, mtime, size). Read-only."""
    file_name = file_name or path.name
    expected = spec.sha256[file_name]
    key = cache_key(path, expected, kind)
    found = recall(key)
    if found is not None:
        return found
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
    return remember(key, array)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}, expected one of: {', '.join(SPLITS)}")
    return split


def load_dataset(name: str | DatasetSpec, split: str, data_dir: str | os.PathLike | None = None,
                 download: bool = True, progress: Progress | None = None,
                 mirrors: list[str] | str | None = None) -> Dataset:
    """Load one split ("train" or "test") of dataset ``name`` ("mnist", "fashion-mnist", a
    folder holding the four IDX files, or a ``DatasetSpec`` such as a run's).

    Returns a ``Dataset`` with uint8 images (N, H, W) and int64 labels (N,). Raises
    ConfigError for an unknown name or split, DataError if a file is missing, corrupt or fails
    its checksum. ``progress(bytes_done, total)`` is called during downloads (reset to 0 at
    the start of each file); ``mirrors`` replaces the mirror base URLs.
    """
    spec = dataset_spec(name)
    _check_split(split)
    if data_dir is None and isinstance(name, str) and is_folder_name(name):
        data_dir = name
    paths, sources, arrays = [], [], []
    for file_name, kind in zip(spec.splits[split], ("images", "labels")):
        path, source = locate_file(spec, file_name, data_dir, download, progress, mirrors)
        arrays.append(_load_verified(path, spec, kind, file_name))
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
                if not spec.mirrors or file_name not in spec.md5:
                    raise _no_mirrors(spec, file_name)
                urls = mirror_urls(mirror_bases(spec.mirrors, mirrors), file_name)
                download_file(urls, path, spec.md5[file_name], progress=progress)
        else:
            path, _ = locate_file(spec, file_name, None, True, progress, mirrors)
        kind = "images" if "images" in file_name else "labels"
        _load_verified(path, spec, kind, file_name)
        paths.append(path)
    return paths


def dataset_info(name: str, data_dir: str | os.PathLike | None = None, download: bool = False,
                 progress: Progress | None = None) -> dict:
    """A JSON-able summary: files used (path, source, sha256 verified), per-class counts for
    train and test, the normalisation mean/std and the measured training-set pixel mean/std."""
    spec = dataset_spec(name)
    if data_dir is None and isinstance(name, str) and is_folder_name(name):
        data_dir = name
    splits = {s: load_dataset(spec, s, data_dir, download, progress) for s in SPLITS}
    files = []
    for split, ds in splits.items():
        for path, source, kind, file_name in zip(ds.files, ds.sources, ("images", "labels"),
                                                 spec.splits[split]):
            files.append({"file": path.name, "split": split, "kind": kind, "path": str(path),
                          "source": source, "sha256": spec.sha256[file_name], "verified": True})
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
