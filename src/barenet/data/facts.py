"""A dataset's facts as JSON: what a run records so it can be used without its data.

``spec_to_facts(spec)`` is the JSON-able description of a ``DatasetSpec`` (classes, image size,
channels, counts, mean/std, picture style, file names and their sha256); a run trained on a
folder keeps it in config.json as ``dataset_facts``. ``spec_from_facts(facts, where)`` reads it
back, checking every value as untrusted input (a config.json may have been edited): names are
only the four IDX names, sizes and counts are bounded, checksums are 64 hex digits.
"""
from __future__ import annotations

import math
from typing import Any

from ..errors import DataError, brief
from .specs import PICTURE_STYLES, SPLITS, DatasetSpec

#: The most classes a dataset may have (a label at or above it is refused).
MAX_CLASSES = 1000
#: The longest class name (characters) and dataset name.
MAX_NAME = 100
#: The largest side of a dataset's square images, in pixels.
MAX_SIDE = 512
#: The most images one split may hold.
MAX_COUNT = 100_000_000
#: The base names of the four files, per split: images then labels; ``.gz`` is optional.
FILE_STEMS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def allowed_names() -> set[str]:
    """Every file name a dataset folder may use: each stem, plain or with ``.gz``."""
    return {s + ext for pair in FILE_STEMS.values() for s in pair for ext in ("", ".gz")}


def check_class_names(names: list[Any], where: str) -> tuple[str, ...]:
    """``names`` as a tuple after checking it lists 2..MAX_CLASSES distinct, non-empty names
    of printable characters, each at most MAX_NAME long; DataError naming ``where``."""
    if not isinstance(names, list) or not 2 <= len(names) <= MAX_CLASSES:
        got = len(names) if isinstance(names, list) else type(names).__name__
        raise DataError(f"{where}: expected 2 to {MAX_CLASSES} class names, got {got}")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME \
                or not name.isprintable():
            raise DataError(f"{where}: class {i} must be a name of 1 to {MAX_NAME} printable "
                            f"characters, got {brief(repr(name), 60)}")
        if name in seen:
            raise DataError(f"{where}: class name {brief(repr(name), 60)} appears twice, "
                            f"expected distinct names")
        seen.add(name)
    return tuple(names)


def spec_to_facts(spec: DatasetSpec) -> dict[str, Any]:
    """The JSON-able facts of ``spec``: name, classes, image_size [H, W], channels, counts
    {"train", "test"}, mean, std, picture_style, files {split: [images, labels]}, sha256."""
    return {"name": spec.name, "classes": list(spec.classes),
            "image_size": list(spec.image_size), "channels": spec.channels,
            "counts": spec.counts, "mean": spec.mean, "std": spec.std,
            "picture_style": spec.picture_style,
            "files": {s: list(spec.splits[s]) for s in SPLITS},
            "sha256": {f: spec.sha256[f] for f in spec.files()}}


def _int(value: Any, what: str, low: int, high: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DataError(f"{where}: {what} must be an integer in [{low}, {high}], "
                        f"got {brief(repr(value), 40)}")
    return value


def _float(value: Any, what: str, where: str, positive: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise DataError(f"{where}: {what} must be a finite number "
                        f"{'> 0' if positive else '>= 0'}, got {brief(repr(value), 40)}")
    return float(value)


def _files(value: Any, where: str) -> dict[str, tuple[str, str]]:
    ok = isinstance(value, dict) and set(value) == set(SPLITS)
    out: dict[str, tuple[str, str]] = {}
    for split in SPLITS if ok else ():
        pair = value[split]
        if not (isinstance(pair, list) and len(pair) == 2 and
                all(isinstance(n, str) and n.removesuffix(".gz") == stem
                    for n, stem in zip(pair, FILE_STEMS[split]))):
            ok = False
            break
        out[split] = (pair[0], pair[1])
    if not ok:
        raise DataError(f"{where}: 'files' must map train and test to their IDX file names "
                        f"(train-images-idx3-ubyte[.gz], ...), got {brief(repr(value), 80)}")
    return out


def spec_from_facts(facts: Any, where: str) -> DatasetSpec:
    """The ``DatasetSpec`` that ``facts`` (from ``spec_to_facts``, read from a file) describe,
    with no mirrors (its files are only read from a folder). DataError naming ``where`` and
    the bad field on anything missing, out of range or of the wrong type."""
    if not isinstance(facts, dict):
        raise DataError(f"{where}: expected an object of dataset facts, got "
                        f"{type(facts).__name__}")
    name = facts.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise DataError(f"{where}: 'name' must be 1 to {MAX_NAME} printable characters, got "
                        f"{brief(repr(name), 60)}")
    classes = check_class_names(facts.get("classes"), f"{where}: 'classes'")
    size = facts.get("image_size")
    if not (isinstance(size, list) and len(size) == 2 and size[0] == size[1]):
        raise DataError(f"{where}: 'image_size' must be [S, S], got {brief(repr(size), 40)}")
    side = _int(size[0], "'image_size'", 1, MAX_SIDE, where)
    channels = _int(facts.get("channels"), "'channels'", 1, 1, where)
    counts = facts.get("counts")
    if not isinstance(counts, dict):
        raise DataError(f"{where}: 'counts' must map train and test to image counts")
    n = {s: _int(counts.get(s), f"'counts.{s}'", 1, MAX_COUNT, where) for s in SPLITS}
    style = facts.get("picture_style")
    if style not in PICTURE_STYLES:
        raise DataError(f"{where}: 'picture_style' must be one of {', '.join(PICTURE_STYLES)}, "
                        f"got {brief(repr(style), 40)}")
    files = _files(facts.get("files"), where)
    sums = facts.get("sha256")
    wanted = [f for s in SPLITS for f in files[s]]
    if not isinstance(sums, dict) or not all(
            isinstance(sums.get(f), str) and len(sums[f]) == 64 and
            all(c in "0123456789abcdef" for c in sums[f]) for f in wanted):
        raise DataError(f"{where}: 'sha256' must give 64 lower-case hex digits for each of "
                        f"{', '.join(wanted)}")
    return DatasetSpec(name=name, classes=classes,
                       mean=_float(facts.get("mean"), "'mean'", where),
                       std=_float(facts.get("std"), "'std'", where, positive=True),
                       sha256={f: sums[f] for f in wanted}, md5={}, mirrors=(),
                       image_size=(side, side), splits=files, channels=channels,
                       train_count=n["train"], test_count=n["test"], picture_style=style)


__all__ = ["FILE_STEMS", "MAX_CLASSES", "MAX_COUNT", "MAX_NAME", "MAX_SIDE", "allowed_names",
           "check_class_names", "spec_from_facts", "spec_to_facts"]
