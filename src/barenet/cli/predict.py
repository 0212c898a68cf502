"""``barenet predict RUN IMAGE...``: classify your own pictures (or test-set images) with a run."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BarenetError, ConfigError

DESCRIPTION = """\
Classify pictures with a trained run. Any PNG, JPEG, BMP or GIF works: any size, colour or
grayscale, dark ink on light paper or light on dark, the digit anywhere on the canvas. Each
picture is prepared the way MNIST was: grayscale, inverted if the background is light, cropped
to the ink, scaled to fit 20x20 keeping its aspect ratio, and centred by its centre of mass in
28x28; then normalised like the training data.

A file that cannot be used (missing, not a picture, too large, no ink) gets one line on stderr;
the other files are still predicted and the exit code is 1."""

EPILOG = """examples:
  barenet predict runs/mlp digit.png                 the digit and its probability
  barenet predict runs/mlp a.png b.jpg --top-k 3     the three most likely classes
  barenet predict runs/mlp *.png --json              a JSON list, one object per picture
  barenet predict runs/mlp --index 0 1 2             test-set images 0, 1 and 2
  barenet predict runs/mlp d.png --save-annotated out/   picture, 28x28 view and probabilities"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="classify your own pictures with a trained run",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="RUN", help="run directory written by `barenet train`")
    parser.add_argument("images", metavar="IMAGE", nargs="*", default=[], help="picture files")
    parser.add_argument("--index", type=int, nargs="+", action="extend", default=[],
                        metavar="N", help="also predict test-set image N of the run's dataset")
    parser.add_argument("--top-k", type=int, default=1, metavar="K",
                        help="show the K most likely classes (default: 1)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list: file, prediction, probabilities, top_k")
    parser.add_argument("--save-annotated", metavar="DIR",
                        help="write DIR/<name>_annotated.png: picture, 28x28 view, probabilities")
    parser.add_argument("--data-dir", metavar="D", help="where the dataset is (for --index)")
    parser.set_defaults(func=run, intermixed=True)   # options before, between or after IMAGEs
    return parser


def _error(msg: str) -> None:
    print(f"barenet: error: {msg}", file=sys.stderr)


def _gather(args: argparse.Namespace, run_: Any) -> tuple[list[dict], int]:
    """Load and preprocess every input; returns (items, number failed)."""
    from ..data.images import load_image, to_mnist

    items: list[dict] = []
    failed = 0
    # Fashion-MNIST items fill the 28x28 frame and are centred by their box, digits are not
    fashion = run_.dataset == "fashion-mnist"
    for path in args.images:
        try:
            gray = load_image(path)
            digit = to_mnist(gray, fit=28, by_mass=False) if fashion else to_mnist(gray)
        except BarenetError as exc:
            msg = str(exc)
            _error(msg if msg.startswith(str(path)) else f"{path}: {msg.removeprefix('picture: ')}")
            failed += 1
            continue
        items.append({"file": str(path), "original": gray, "digit": digit})
    if args.index:
        from ..data.datasets import load_dataset

        test = load_dataset(run_.dataset, "test", data_dir=run_.data_dir(args.data_dir))
        for n in args.index:
            if not 0 <= n < len(test.labels):
                _error(f"--index {n}: out of range, the {run_.dataset} test set has images "
                       f"0..{len(test.labels) - 1}")
                failed += 1
                continue
            items.append({"file": None, "index": n, "label": test.classes[int(test.labels[n])],
                          "original": test.images[n], "digit": test.images[n]})
    return items, failed


def _annotated_name(item: dict, used: set[str]) -> str:
    base = f"test_{item['index']}" if item["file"] is None else Path(item["file"]).stem
    name, k = f"{base}_annotated.png", 2
    while name in used:
        name, k = f"{base}_{k}_annotated.png", k + 1
    used.add(name)
    return name


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError('drawing needs matplotlib: pip install "barenet[cli]"') from None


def run(args: argparse.Namespace) -> int:
    from ..train.checkpoint import load_run

    if args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {args.top_k}")
    if not args.images and not args.index:
        raise ConfigError("predict: give at least one IMAGE or --index N")
    if args.save_annotated:
        _require_matplotlib()
    run_ = load_run(args.run)
    classes = [str(c) for c in run_.classes]
    items, failed = _gather(args, run_)
    if items:
        probs = run_.predict_proba(np.stack([it["digit"] for it in items]))
    used: set[str] = set()
    results = []
    for it, p in zip(items, probs if items else []):
        p = np.asarray(p, dtype=np.float64)
        order = np.argsort(-p, kind="stable")[:min(args.top_k, len(p))]
        res = {"file": it["file"]}
        if it["file"] is None:
            res.update(index=it["index"], label=it["label"])
        res.update(prediction=classes[order[0]], prediction_index=int(order[0]),
                   confidence=round(float(p[order[0]]), 6),
                   probabilities={c: round(float(v), 6) for c, v in zip(classes, p)},
                   top_k=[{"class": classes[i], "probability": round(float(p[i]), 6)}
                          for i in order])
        if args.save_annotated:
            from ..plots import plot_prediction

            title = it["file"] or f"{run_.dataset} test image {it['index']} (label {it['label']})"
            out = Path(args.save_annotated) / _annotated_name(it, used)
            res["annotated"] = str(plot_prediction(it["original"], it["digit"], p, classes, out,
                                                   title=title))
        results.append(res)
        if not args.json:
            name = it["file"] or f"test[{it['index']}] (label {it['label']})"
            shown = ", ".join(f"{t['class']} ({t['probability']:.1%})" for t in res["top_k"])
            print(f"{name}: {shown}")
            if "annotated" in res:
                print(f"  annotated: {res['annotated']}")
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0
