"""The pictures a command is asked about (files and ``--index`` test images), made MNIST-like,
and the names of the figures drawn for them: shared by predict, explain and attack."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import BarenetError, ConfigError


def error_line(msg: str) -> None:
    """One ``barenet: error:`` line on stderr for a picture that was skipped."""
    print(f"barenet: error: {msg}", file=sys.stderr)


def gather_pictures(args: argparse.Namespace, run_: Any) -> tuple[list[dict], int]:
    """Load and preprocess ``args.images`` and the test images ``args.index`` for ``run_``;
    returns (items, number failed). Each item: ``file`` (None for a test image), ``index``
    and ``label`` for a test image, ``original`` (the picture) and ``digit`` (uint8 (S, S),
    S the run's image size, drawn in its dataset's picture style)."""
    from ..data.images import load_image, to_style

    items: list[dict] = []
    failed = 0
    # the dataset says how pictures look: digits centred by mass, clothing filling the frame
    spec = run_.dataset_spec
    for path in args.images:
        try:
            gray = load_image(path)
            digit = to_style(gray, spec.picture_style, run_.image_size)
        except BarenetError as exc:
            msg = str(exc)
            error_line(msg if msg.startswith(str(path))
                       else f"{path}: {msg.removeprefix('picture: ')}")
            failed += 1
            continue
        items.append({"file": str(path), "original": gray, "digit": digit})
    if args.index:
        from ..data.datasets import load_dataset

        test = load_dataset(spec, "test", data_dir=run_.data_dir(args.data_dir))
        for n in args.index:
            if not 0 <= n < len(test.labels):
                error_line(f"--index {n}: out of range, the {run_.dataset} test set has images "
                           f"0..{len(test.labels) - 1}")
                failed += 1
                continue
            items.append({"file": None, "index": n, "label": test.classes[int(test.labels[n])],
                          "original": test.images[n], "digit": test.images[n]})
    return items, failed


def figure_name(item: dict, used: set[str], suffix: str) -> str:
    """``<file stem>_<suffix>.png`` (``test_<N>_...`` for a test image), numbered so that no
    two items of one call share a name; the name is added to ``used``."""
    base = f"test_{item['index']}" if item["file"] is None else Path(item["file"]).stem
    name, k = f"{base}_{suffix}.png", 2
    while name in used:
        name, k = f"{base}_{k}_{suffix}.png", k + 1
    used.add(name)
    return name


def require_matplotlib() -> None:
    """ConfigError with the install hint when matplotlib is missing (before any work)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError('drawing needs matplotlib: pip install "barenet[cli]"') from None
