"""A dataset from a folder: the four IDX files of any classification set, facts computed.

A folder holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or gzipped (``.gz``), and
optionally ``classes.txt`` (one class name per line). ``read_folder`` reads and checks them all
and returns the ``DatasetSpec`` they make, its facts measured rather than known:

- the sha256 of each file's decompressed bytes (so a later reading can be verified);
- images uint8 (N, S, S), square, the same side S in both splits, at most ``MAX_SIDE``;
- labels integers 0..K-1, every class present in the training split; K is the number of
  names in classes.txt, else the largest training label + 1 (names "0".."K-1"); a label at or
  above ``MAX_CLASSES`` is refused;
- mean and std of pixel/255 over the training images; counts per split.

Every problem raises DataError (IDXError for a malformed file) naming the file, in one line.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError, IDXError
from ..regular_file import open_regular
from .facts import FILE_STEMS, MAX_CLASSES, MAX_NAME, MAX_SIDE, check_class_names
from .idx import check_same_count, read_idx_with_sha256
from .memo import LOCK, cache_key, remember
from .specs import SPECS, SPLITS, DatasetSpec, get_spec

CLASSES_FILE = "classes.txt"
#: The most bytes read from classes.txt (a thousand names of 60 characters fit).
MAX_CLASSES_BYTES = 1 << 16


def find_files(folder: Path) -> dict[str, tuple[str, str]]:
    """The file names present in ``folder`` per split: ``{"train": (images, labels), ...}``,
    each stem plain or ``.gz``. DataError naming a missing file, or a stem present twice."""
    out = {}
    for split in SPLITS:
        pair = []
        for stem in FILE_STEMS[split]:
            found = [n for n in (stem, stem + ".gz") if (folder / n).exists()]
            if not found:
                raise DataError(f"{folder / stem}[.gz]: not found; a dataset folder holds "
                                f"{', '.join(s + '[.gz]' for p in FILE_STEMS.values() for s in p)}")
            if len(found) == 2:
                raise DataError(f"{folder / stem}: both {stem} and {stem}.gz are present, "
                                f"expected one of them")
            pair.append(found[0])
        out[split] = (pair[0], pair[1])
    return out


def read_class_names(path: Path) -> list[str]:
    """Class names from ``path``: UTF-8, one per line, trailing blank lines ignored; at most
    ``MAX_CLASSES_BYTES`` read. DataError naming the file on anything else."""
    f, size = open_regular(path, "a text file of class names", DataError)
    with f:
        raw = f.read(MAX_CLASSES_BYTES + 1)
    if len(raw) > MAX_CLASSES_BYTES:
        raise DataError(f"{path}: more than {MAX_CLASSES_BYTES} bytes, expected at most "
                        f"{MAX_CLASSES} short class names, one per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return list(check_class_names(lines, str(path)))


def _images(array: np.ndarray, path: Path, side: int | None) -> np.ndarray:
    """Check uint8 (N, S, S) with 1 <= S <= MAX_SIDE (and S == side when given)."""
    if array.ndim != 3 or array.dtype != np.uint8:
        raise IDXError(f"{path}: expected 3-D uint8 images (N, S, S), got shape "
                       f"{array.shape} of {array.dtype}")
    h, w = array.shape[1:]
    if h != w or not 1 <= h <= MAX_SIDE:
        raise IDXError(f"{path}: expected square images of side 1 to {MAX_SIDE}, got {h}x{w}")
    if side is not None and h != side:
        raise IDXError(f"{path}: {h}x{w} images, expected {side}x{side} as in the training set")
    if len(array) == 0:
        raise IDXError(f"{path}: holds no images, expected at least one")
    return array


def _labels(array: np.ndarray, path: Path, limit: int) -> np.ndarray:
    """Check 1-D integer labels in [0, limit); returns int64 (N,)."""
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise IDXError(f"{path}: expected 1-D integer labels, got shape {array.shape} of "
                       f"{array.dtype}")
    labels = array.astype(np.int64)
    bad = np.flatnonzero((labels < 0) | (labels >= limit))
    if bad.size:
        i = int(bad[0])
        raise IDXError(f"{path}: label {int(labels[i])} at index {i} is out of range, expected "
                       f"0..{limit - 1} ({bad.size} bad labels in all)")
    return labels


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


def read_folder(folder: str | os.PathLike
                ) -> tuple[DatasetSpec, dict[str, tuple[Path, np.ndarray]]]:
    """Read and check a dataset folder; returns ``(spec, arrays)`` where ``arrays`` maps each
    file name to (its path, images uint8 (N, S, S) or labels int64 (N,)). The spec has no
    mirrors and its sha256 are those measured here."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: not a directory, expected a folder holding the four IDX files")
    root = root.resolve()
    names = find_files(root)
    arrays: dict[str, tuple[Path, np.ndarray]] = {}
    sums: dict[str, str] = {}
    side = None
    for split in SPLITS:
        image_name, label_name = names[split]
        paths = root / image_name, root / label_name
        images, sums[image_name] = read_idx_with_sha256(paths[0])
        images = _images(images, paths[0], side)
        side = images.shape[1]
        raw, sums[label_name] = read_idx_with_sha256(paths[1])
        labels = _labels(raw, paths[1], MAX_CLASSES)
        check_same_count(images, labels, str(paths[0]), str(paths[1]))
        arrays[image_name], arrays[label_name] = (paths[0], images), (paths[1], labels)
    train_labels = arrays[names["train"][1]][1]
    classes_path = root / CLASSES_FILE
    if classes_path.exists():
        classes = read_class_names(classes_path)
    else:
        classes = [str(k) for k in range(int(train_labels.max()) + 1)]
    k = len(classes)
    for split in SPLITS:
        path, labels = arrays[names[split][1]]
        _labels(labels, path, k)     # within the names of classes.txt
    counts = np.bincount(train_labels, minlength=k)
    missing = np.flatnonzero(counts == 0)
    if missing.size:
        shown = ", ".join(str(int(m)) for m in missing[:10]) + (", ..." if missing.size > 10
                                                               else "")
        raise DataError(f"{root / names['train'][1]}: labels must be 0..{k - 1} with every "
                        f"class present, but {missing.size} never appear ({shown})")
    if k < 2:
        raise DataError(f"{root / names['train'][1]}: only one class (label 0), expected at "
                        f"least 2")
    mean, std = pixel_stats(arrays[names["train"][0]][1])
    if not std > 0:
        raise DataError(f"{root / names['train'][0]}: every pixel has the same value, "
                        f"expected images that vary")
    name = "".join(c for c in root.name if c.isprintable())[:MAX_NAME] or "dataset"
    if name.lower().replace("_", "-") in SPECS:     # never taken for the built-in one
        name = f"{name[:MAX_NAME - 7]}-folder"
    spec = DatasetSpec(name=name, classes=tuple(classes),
                       mean=round(mean, 6), std=round(std, 6), sha256=sums, md5={}, mirrors=(),
                       image_size=(side, side), splits=names,
                       train_count=len(train_labels),
                       test_count=len(arrays[names["test"][1]][1]))
    return spec, arrays


_FOLDERS: dict[tuple, DatasetSpec] = {}


def _folder_spec(folder: Path) -> DatasetSpec:
    """The spec of a dataset folder (``read_folder``), read once per state of its files; the
    arrays read are kept in the cache so loading them again costs nothing."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a directory, expected a folder holding the four IDX "
                        f"files")

    def state() -> tuple:
        return tuple((n, st.st_mtime_ns, st.st_size) for n in sorted(os.listdir(folder))
                     if n.startswith(("train-", "t10k-")) or n == CLASSES_FILE
                     for st in [os.stat(folder / n)])

    try:
        key = (str(folder.resolve()), state())
    except OSError as exc:
        raise DataError(f"{folder}: cannot read ({exc.strerror or exc})") from None
    with LOCK:
        if key in _FOLDERS:
            return _FOLDERS[key]
    spec, arrays = read_folder(folder)
    for file_name, (path, array) in arrays.items():
        kind = "images" if array.ndim == 3 else "labels"
        remember(cache_key(path, spec.sha256[file_name], kind), array)
    with LOCK:
        _FOLDERS.clear()
        _FOLDERS[key] = spec
    return spec


def is_folder_name(name: str) -> bool:
    """Whether ``--dataset`` names a folder rather than a built-in dataset: it is not a known
    name and looks like a path (holds a separator, starts with ``.`` or ``~``, or exists)."""
    key = name.strip().lower().replace("_", "-")
    if key in SPECS:
        return False
    return (os.sep in name or "/" in name or name.startswith((".", "~"))
            or Path(name).expanduser().is_dir())


def dataset_spec(dataset: str | DatasetSpec) -> DatasetSpec:
    """The spec ``dataset`` stands for: itself if a DatasetSpec, a built-in name ("mnist",
    "fashion-mnist"), or a folder holding the four IDX files (read and checked once; see
    ``folder.py``). ConfigError for an unknown name, DataError for a bad folder."""
    if isinstance(dataset, DatasetSpec):
        return dataset
    if isinstance(dataset, str) and is_folder_name(dataset):
        return _folder_spec(Path(dataset).expanduser())
    try:
        return get_spec(dataset)
    except ConfigError:
        raise ConfigError(f"unknown dataset {dataset!r}, expected one of: {', '.join(SPECS)}, "
                          f"or a folder holding the four IDX files") from None


__all__ = ["CLASSES_FILE", "MAX_CLASSES_BYTES", "dataset_spec", "find_files", "is_folder_name",
           "pixel_stats", "read_class_names", "read_folder"]
