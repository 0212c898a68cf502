"""``barenet predict RUN IMAGE...``: classify your own pictures (or test-set images) with a run,
or with a committee of runs (``--ensemble RUN2``) and test-time augmentation (``--tta N``)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..atomic import check_replaceable
from ..errors import ConfigError
from ..train.fileio import dumps_strict, printable
from .committee_args import add_committee_args, committee_paths, load_committee
from .pictures import figure_name, gather_pictures, require_matplotlib

DESCRIPTION = """\
Classify pictures with a trained run. Any PNG, JPEG, BMP or GIF works: any size, colour or
grayscale, dark ink on light paper or light on dark, the digit anywhere on the canvas. Each
picture is prepared the way MNIST was: grayscale, inverted if the background is light, cropped
to the ink, scaled to fit 20x20 keeping its aspect ratio, and centred by its centre of mass in
28x28; then normalised like the training data.

A file that cannot be used (missing, not a picture, too large, no ink) gets one line on stderr;
the other files are still predicted and the exit code is 1. --save-annotated DIR replaces an
existing figure only with --overwrite (refused before any work); DIR's other files are kept.

A committee: each --ensemble RUN2 adds one run (RUN stays first, the pictures follow it);
the probabilities shown are the mean of the runs' softmax outputs, and --json adds each
run's own answer ("members": run, prediction, confidence). --tta N averages each picture's
probabilities over N views: the picture, then its one-pixel shifts right, left, down, up,
down-right, down-left, up-right, up-left (zero-filled); --json then adds "tta": N."""

EPILOG = """examples:
  barenet predict runs/mlp digit.png                 the digit and its probability
  barenet predict runs/mlp a.png b.jpg --top-k 3     the three most likely classes
  barenet predict runs/mlp *.png --json              a JSON list, one object per picture
  barenet predict runs/mlp --index 0 1 2             test-set images 0, 1 and 2
  barenet predict runs/mlp d.png --save-annotated out/   picture, 28x28 view and probabilities
  barenet predict runs/mlp --ensemble runs/cnn d.png      the two runs' mean probabilities
  barenet predict runs/cnn d.png --tta 5                  the picture and 4 one-pixel shifts"""


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
    parser.add_argument("--overwrite", action="store_true",
                        help="replace figures that DIR holds already")
    parser.add_argument("--data-dir", metavar="D", help="where the dataset is (for --index)")
    add_committee_args(parser, runs_positional=False)
    parser.set_defaults(func=run, intermixed=True)   # options before, between or after IMAGEs
    return parser


def planned_figures(args: argparse.Namespace, out_dir: str, suffix: str,
                    option: str) -> list[tuple[tuple, Path]]:
    """The figure each requested picture gets in ``out_dir`` (``figure_name``'s names, in the
    order ``gather_pictures`` returns the pictures), checked before any work: an existing one
    is refused unless ``args.overwrite``. ``take_figure`` hands them out."""
    used: set[str] = set()
    plan = [(("file", str(path)), Path(out_dir) / figure_name({"file": str(path)}, used, suffix))
            for path in args.images]
    plan += [(("index", n), Path(out_dir) / figure_name({"file": None, "index": n}, used, suffix))
             for n in args.index]
    check_replaceable([path for _, path in plan], args.overwrite, option)
    return plan


def take_figure(plan: list[tuple[tuple, Path]], item: dict) -> Path:
    """The planned figure of ``item`` (a picture of ``gather_pictures``), removed from ``plan``."""
    key = ("file", item["file"]) if item["file"] is not None else ("index", item["index"])
    for i, (k, path) in enumerate(plan):
        if k == key:
            del plan[i]
            return path
    raise KeyError(key)   # pragma: no cover - every picture was planned


def _member(run_dir: str, p: np.ndarray, classes: list[str]) -> dict:
    """One committee member's answer for a picture: its run, prediction and confidence."""
    k = int(np.argmax(p))
    return {"run": run_dir, "prediction": classes[k], "prediction_index": k,
            "confidence": round(float(p[k]), 6)}


def run(args: argparse.Namespace) -> int:
    from ..train.checkpoint import load_run

    if args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {args.top_k}")
    if not args.images and not args.index:
        raise ConfigError("predict: give at least one IMAGE or --index N")
    if args.save_annotated:
        require_matplotlib()
        plan = planned_figures(args, args.save_annotated, "annotated", "--save-annotated")
    paths = committee_paths(args, "predict")
    for picture in args.images:
        if (Path(picture) / "config.json").is_file():
            raise ConfigError(f"predict: {printable(picture, 60)} is a run, not a picture; to "
                              f"add it to a committee: barenet predict {printable(paths[0], 60)} "
                              f"--ensemble {printable(picture, 60)} PICTURE...")
    runs = load_committee(paths) if len(paths) > 1 else [load_run(paths[0])]
    run_ = runs[0]
    classes = [str(c) for c in run_.classes]
    items, failed = gather_pictures(args, run_)
    members: list[np.ndarray] = []
    if items:
        stack = np.stack([it["digit"] for it in items])
        if len(runs) == 1 and args.tta == 1:
            probs = run_.predict_proba(stack)
        else:
            from ..committee import view_proba

            members = [view_proba(r, stack, args.tta)[1] for r in runs]
            probs = sum(members) / len(members)
    results = []
    for j, (it, p) in enumerate(zip(items, probs if items else [])):
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
        if args.tta > 1:
            res["tta"] = args.tta
        if len(runs) > 1:
            res["members"] = [_member(str(r.run_dir), m[j], classes)
                              for r, m in zip(runs, members)]
        if args.save_annotated:
            from ..plots import plot_prediction

            title = it["file"] or f"{run_.dataset} test image {it['index']} (label {it['label']})"
            out = take_figure(plan, it)
            res["annotated"] = str(plot_prediction(it["original"], it["digit"], p, classes, out,
                                                   title=title))
        results.append(res)
        if not args.json:
            name = it["file"] or f"test[{it['index']}] (label {it['label']})"
            shown = ", ".join(f"{t['class']} ({t['probability']:.1%})" for t in res["top_k"])
            print(f"{name}: {shown}")
            if "members" in res:
                print("  members: " + ", ".join(
                    f"{printable(m['run'], 60)} {m['prediction']} ({m['confidence']:.1%})"
                    for m in res["members"]))
            if "annotated" in res:
                print(f"  annotated: {res['annotated']}")
    if args.json:
        print(dumps_strict(results, indent=2))
    return 1 if failed else 0
