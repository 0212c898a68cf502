"""``barenet evaluate RUN``: accuracy, loss, confusion matrix and per-class scores of a run, or
of a committee of runs (``--ensemble``) and with test-time augmentation (``--tta N``)."""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..errors import ConfigError
from .committee_args import add_committee_args, committee_name, committee_paths, load_committee
from .common import add_command, add_data_args, pct, positive_int, table, warn

DESCRIPTION = """\
Evaluate a trained run on a test set (by default the test split of the dataset it was trained
on; --split val: the run's own validation images, drawn again from its seed and val_split;
--split train: the whole training set): accuracy, mean cross-entropy loss, the confusion
matrix (rows: true class, columns: predicted class) and precision, recall, F1 and support
per class. --json prints the same as one JSON object: accuracy, loss, confusion_matrix,
per_class, n, dataset, split, run.

A committee: `evaluate RUN RUN2 ... --ensemble` (or `RUN --ensemble RUN2 --ensemble RUN3`)
averages the runs' softmax probabilities and scores that mean; the runs must share their
dataset, classes and picture size (an MLP and a CNN of the same data make a good pair). It
also shows each run's own accuracy and the gain over the best of them. --tta N averages each
picture's probabilities over N views: the picture, then its one-pixel shifts right, left,
down, up, down-right, down-left, up-right, up-left (zero-filled), for one run or a
committee. With either, --json adds runs, members (run, accuracy, loss, accuracy_tta,
loss_tta), best_member, gain, tta, shifts ([dy, dx] per view) and without_tta (accuracy,
loss); a committee's has no "run". The runs' figures are not redrawn."""

EXAMPLES = """\
  barenet evaluate runs/mlp                       tables on the MNIST test set
  barenet evaluate runs/mlp --json | jq .accuracy
  barenet evaluate runs/fashion --data-dir ~/data/fashion-mnist
  barenet evaluate runs/mlp --split val           the validation images it chose its epoch on
  barenet evaluate runs/mlp --split train         how well it fits its training data
  barenet evaluate runs/mlp runs/cnn --ensemble   the two as a committee
  barenet evaluate runs/mlp --ensemble runs/cnn --tta 5   the same, each picture seen 5 ways
  barenet evaluate runs/cnn --tta 9               one run, the picture and its 8 shifts"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "evaluate", "test accuracy, confusion matrix, per-class scores",
                    DESCRIPTION, EXAMPLES)
    p.add_argument("runs", metavar="RUN", nargs="+",
                   help="run directory written by `barenet train` (several: with --ensemble)")
    add_data_args(p, "dataset to evaluate on (default: the one the run was trained on)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"), type=str.lower,
                   help="test, val (the run's own validation split) or train (default: test)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="evaluate on the first N images only (quick checks)")
    p.add_argument("--no-plots", action="store_true",
                   help="do not redraw the run's figures (confusion matrix, curves, ...)")
    add_committee_args(p, runs_positional=True)
    p.set_defaults(func=run, intermixed=True)   # options before, between or after RUNs
    return p


def run(args: argparse.Namespace) -> int:
    from ..train.checkpoint import load_run
    from ..train.evaluate import evaluate_run
    from ..train.fileio import dumps_strict

    paths = committee_paths(args, "evaluate")
    if len(paths) > 1 or args.tta > 1:
        return run_committee(args, paths)
    run_ = load_run(paths[0])
    dataset = load_test_set(args, run_)
    _warn_if_untrained(run_)
    result = evaluate_run(run_, dataset, limit=args.limit)
    result["split"] = args.split
    if args.json:
        keys = ("accuracy", "loss", "confusion_matrix", "per_class", "n", "dataset", "split",
                "run")
        out = {k: result[k] for k in keys}
        out["confusion_matrix"] = np.asarray(out["confusion_matrix"]).tolist()
        print(dumps_strict(out))   # NaN (an empty set, overflowing logits) as null
    else:
        print(report(result, run_))
    own_test = dataset.name == run_.dataset and args.split == "test" and args.limit is None
    if own_test and not args.no_plots:
        try:
            from .. import plots

            plots.plot_run(run_.run_dir, None, result, run_, dataset=dataset)
        except Exception as exc:  # noqa: BLE001 - figures are a bonus, never a failure
            warn(f"figures were not drawn ({type(exc).__name__}: {exc})")
    return 0


#: The keys of ``--json`` for a committee or test-time augmentation.
COMMITTEE_KEYS = ("accuracy", "loss", "confusion_matrix", "per_class", "n", "dataset", "split",
                  "runs", "members", "best_member", "gain", "tta", "shifts", "without_tta")


def run_committee(args: argparse.Namespace, paths: list[str]) -> int:
    """``evaluate`` of a committee (several runs) or of one run with ``--tta N``: the mean of
    the runs' probabilities over every view, each run's own scores and the gain."""
    from ..committee import evaluate_committee
    from ..train.fileio import dumps_strict

    runs = load_committee(paths)
    if args.split == "val" and len(runs) > 1:
        raise ConfigError(f"evaluate: --split val is one run's own validation split and a "
                          f"committee's runs drew theirs apart ({committee_name(runs)}); use "
                          f"--split test or train")
    dataset = load_test_set(args, runs[0])
    for run_ in runs:
        _warn_if_untrained(run_)
    result = evaluate_committee(runs, dataset, tta=args.tta, limit=args.limit)
    result["split"] = args.split
    if args.json:
        out = {k: result[k] for k in COMMITTEE_KEYS}
        if len(runs) == 1:
            out["run"] = result["runs"][0]
        out["confusion_matrix"] = np.asarray(out["confusion_matrix"]).tolist()
        print(dumps_strict(out))
    else:
        print(committee_report(result, runs))
    return 0


def committee_report(result: dict[str, Any], runs: list[Any]) -> str:
    """The human-readable evaluation of a committee or of views: who took part, each member's
    accuracy (without and with the views), the committee's, the gain, then ``scores``."""
    from ..train.fileio import printable

    views = result["tta"]
    what = (f"committee {len(runs)} runs, the mean of their softmax probabilities"
            if len(runs) > 1 else f"run       {printable(str(runs[0].run_dir), 80)}")
    lines = [what]
    if views > 1:
        lines.append(f"views     {views} per picture (test-time augmentation: the picture and "
                     f"{views - 1} one-pixel shift{'s' if views > 2 else ''}, zero-filled)")
    lines.append(f"dataset   {printable(result['dataset'], 60)} {_split_name(result, runs[0])}, "
                 f"{result['n']} images")
    head = ["member", "model", "accuracy"] + ([f"with {views} views"] if views > 1 else [])
    rows = [[printable(m["run"], 50), printable(r.name, 20),
             pct(m["accuracy"])] + ([pct(m["accuracy_tta"])] if views > 1 else [])
            for m, r in zip(result["members"], runs)]
    if len(runs) > 1:
        rows.append(["committee", "", pct(result["without_tta"]["accuracy"])]
                    + ([pct(result["accuracy"])] if views > 1 else []))
    best = next(m for m in result["members"] if m["run"] == result["best_member"])
    gain = "committee" if len(runs) > 1 else "views"
    gain += " and views" if len(runs) > 1 and views > 1 else ""
    lines += ["", table(head, rows), "",
              f"gain      {100 * result['gain']:+.2f} points ({gain}) over the best run alone "
              f"({printable(best['run'], 60)}: {pct(best['accuracy'])})"]
    return "\n".join(lines + scores(result, "mean cross-entropy of the averaged probabilities"))


def load_test_set(args: argparse.Namespace, run_: Any) -> Any:
    """The ``Dataset`` to evaluate ``run_`` on: ``args.split`` of ``--dataset`` (default: the
    run's own, from its recorded facts, a folder's checksums verified) or its validation
    split drawn again."""
    from ..data.datasets import load_dataset
    from ..train.evaluate import validation_set
    from ..train.fileio import printable

    name = args.dataset or run_.dataset
    source = run_.dataset_spec if args.dataset is None else args.dataset
    data_dir = run_.data_dir(args.data_dir, args.dataset)
    if args.split == "val":
        if name != run_.dataset:
            raise ConfigError(f"{run_.run_dir}: --split val is the validation split of "
                              f"{printable(run_.dataset, 60)}, the dataset it was trained on, "
                              f"not {printable(name, 60)}")
        return validation_set(run_, data_dir)
    return load_dataset(source, args.split, data_dir=data_dir)


def _warn_if_untrained(run_: Any) -> None:
    """One warning line when ``barenet train`` made the run but finished no epoch of it."""
    trained_by_barenet = isinstance(run_.config.get("hyperparameters"), dict)
    if trained_by_barenet and not run_.config.get("epochs_completed") and not run_.history:
        warn(f"{run_.run_dir}: untrained (0 epochs completed), these are the random initial "
             f"weights; continue with barenet train --resume {run_.run_dir}")


def _split_name(result: dict[str, Any], run_: Any) -> str:
    if result["split"] != "val":
        return result["split"]
    hyper = run_.config["hyperparameters"]
    return (f"validation split (the run's own: seed {run_.config['seed']}, val_split "
            f"{hyper['val_split']:g})")


def report(result: dict[str, Any], run_: Any) -> str:
    """The human-readable evaluation: headline, confusion matrix, per-class table (every
    string read from the run escaped and cut)."""
    from ..train.fileio import printable

    lines = [f"run       {run_.run_dir} ({printable(run_.spec['name'], 40)}, trained on "
             f"{printable(run_.dataset, 60)})",
             f"dataset   {printable(result['dataset'], 60)} {_split_name(result, run_)}, "
             f"{result['n']} images"]
    return "\n".join(lines + scores(result))


def scores(result: dict[str, Any], loss: str = "mean cross-entropy") -> list[str]:
    """The lines of an evaluation after its headline: accuracy, loss, confusion matrix and
    per-class table (class names escaped and cut)."""
    from ..train.fileio import printable

    classes = [printable(c["class"], 40) for c in result["per_class"]]
    short = [c if len(c) <= 8 else c[:7] + "." for c in classes]
    cm = np.asarray(result["confusion_matrix"])
    lines = [f"accuracy  {pct(result['accuracy'])}  ({int(np.trace(cm))} of {result['n']} "
             f"correct)",
             f"loss      {result['loss']:.4f}  ({loss})",
             "", "confusion matrix (rows: true class, columns: predicted class)"]
    lines.append(table(["true \\ pred", *short], [[c, *row] for c, row in zip(short, cm.tolist())]))
    rows = [[name, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}",
             c["support"]] for name, c in zip(classes, result["per_class"])]
    k = max(len(rows), 1)
    rows.append(["macro avg", f"{sum(c['precision'] for c in result['per_class']) / k:.4f}",
                 f"{sum(c['recall'] for c in result['per_class']) / k:.4f}",
                 f"{sum(c['f1'] for c in result['per_class']) / k:.4f}", result["n"]])
    lines += ["", table(["class", "precision", "recall", "f1", "support"], rows)]
    return lines
