"""``barenet explain RUN IMAGE...``: why a run answered, as the input gradient on the picture."""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..train.fileio import dumps_strict
from .common import add_command
from .pictures import gather_pictures, require_matplotlib
from .predict import planned_figures, take_figure

#: Most pictures one call explains (each is a forward and backward pass per noisy copy)
MAX_PICTURES = 100

DESCRIPTION = """\
Explain a run's answer with its backward pass: for each picture, the prediction and the input
gradient d log p(class) / d pixel of the predicted class (or --target), where the pixels are
those of the preprocessed 28x28 picture in [0, 1] (the chain rule runs through the run's
normalisation). A positive value means brightening that pixel raises the class's probability.
--smooth K averages the gradient over K copies of the picture with Gaussian noise
(SmoothGrad, standard deviation 0.15), which is less speckled. Pictures are prepared as
`barenet predict` prepares them.

--json prints a list with, per picture: file (null for a test image, which has index and
true_label instead), prediction (class index), label (its name), probabilities, target (the
class explained) and input_gradient (28x28 nested lists). --out DIR
writes DIR/<name>_explain.png per picture: the input, the gradient as a heatmap (red raises
the class, blue lowers it) and gradient x input. An existing figure is replaced only with
--overwrite (refused before any work); DIR's other files are kept."""

EXAMPLES = """\
  barenet explain runs/cnn --index 0 1 2             predictions and where the gradient peaks
  barenet explain runs/cnn digit.png --out figs/     figs/digit_explain.png
  barenet explain runs/cnn --index 0 --target 3      what would make test image 0 more of a 3
  barenet explain runs/mlp --index 0 --smooth 50 --json"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..explain.record import MAX_SMOOTH

    p = add_command(subparsers, "explain", "why a run answered: input gradients on the picture",
                    DESCRIPTION, EXAMPLES)
    p.add_argument("run", metavar="RUN", help="run directory written by `barenet train`")
    p.add_argument("images", metavar="IMAGE", nargs="*", default=[], help="picture files")
    p.add_argument("--index", type=int, nargs="+", action="extend", default=[], metavar="N",
                   help="also explain test-set image N of the run's dataset")
    p.add_argument("--target", metavar="CLASS",
                   help="explain this class (index or name) instead of the prediction")
    p.add_argument("--smooth", type=int, default=0, metavar="K",
                   help=f"average over K noisy copies, 0..{MAX_SMOOTH} (default: 0, off)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per picture")
    p.add_argument("--out", metavar="DIR", help="write DIR/<name>_explain.png per picture")
    p.add_argument("--overwrite", action="store_true",
                   help="replace figures that DIR holds already")
    p.add_argument("--data-dir", metavar="D", help="where the dataset is (for --index)")
    p.set_defaults(func=run, intermixed=True)   # options before, between or after IMAGEs
    return p


def parse_target(text: str | None, classes: list[str]) -> int | None:
    """``--target``: a class name of the run, or a class index; None when not given."""
    if text is None:
        return None
    if text in classes:
        return classes.index(text)
    try:
        k = int(text)
    except ValueError:
        k = -1
    if not 0 <= k < len(classes):
        shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
        raise ConfigError(f"--target {text}: expected a class index 0..{len(classes) - 1} or a "
                          f"class name ({shown})")
    return k


def _describe(item: dict, rec: dict, pixels: np.ndarray, classes: list[str]) -> str:
    from ..explain.record import strongest

    name = item["file"] or f"test[{item['index']}] (label {item['label']})"
    pred, target, probs = rec["prediction"], rec["target"], rec["probabilities"]
    s = strongest(np.asarray(rec["input_gradient"]), pixels)
    other = "" if target == pred else f"; explaining {classes[target]} ({probs[target]:.1%})"
    return (f"{name}: {classes[pred]} ({probs[pred]:.1%}){other}; gradient peaks at row "
            f"{s['peak'][0]}, col {s['peak'][1]} ({s['value']:+.2g}), {s['on_ink']:.0%} of it "
            f"on the ink")


def run(args: argparse.Namespace) -> int:
    from ..explain.record import MAX_SMOOTH, explain
    from ..train.checkpoint import load_run

    if not args.images and not args.index:
        raise ConfigError("explain: give at least one IMAGE or --index N")
    if len(args.images) + len(args.index) > MAX_PICTURES:
        raise ConfigError(f"explain: {len(args.images) + len(args.index)} pictures, expected at "
                          f"most {MAX_PICTURES} per call")
    if not 0 <= args.smooth <= MAX_SMOOTH:
        raise ConfigError(f"--smooth {args.smooth}: expected 0..{MAX_SMOOTH} noisy copies")
    if args.out:
        require_matplotlib()
        plan = planned_figures(args, args.out, "explain", "--out")
    run_ = load_run(args.run)
    classes = [str(c) for c in run_.classes]
    target = parse_target(args.target, classes)
    items, failed = gather_pictures(args, run_)
    results: list[dict[str, Any]] = []
    for it in items:   # one at a time: a picture's SmoothGrad noise never depends on the others
        pixels = it["digit"][None].astype(np.float32) / np.float32(255)
        rec = explain(run_, pixels, target=target, smooth=args.smooth)[0]
        res: dict[str, Any] = {"file": it["file"]}
        if it["file"] is None:
            res.update(index=it["index"], true_label=it["label"])
        res.update(rec)
        if args.out:
            from ..explain.figures import plot_explanation

            title = it["file"] or f"{run_.dataset} test image {it['index']} (label {it['label']})"
            smooth = f", SmoothGrad over {args.smooth} noisy copies" if args.smooth else ""
            path = take_figure(plan, it)
            res["figure"] = str(plot_explanation(pixels[0], np.asarray(rec["input_gradient"]),
                                                 rec, classes, path, title=title + smooth))
        results.append(res)
        if not args.json:
            print(_describe(it, rec, pixels[0], classes))
            if "figure" in res:
                print(f"  figure: {res['figure']}")
    if args.json:
        print(dumps_strict(results))
    return 1 if failed else 0
