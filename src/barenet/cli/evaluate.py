"""``barenet evaluate RUN``: accuracy, loss, confusion matrix and per-class scores of a run."""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..errors import ConfigError
from .common import add_command, add_data_args, pct, positive_int, table, warn

DESCRIPTION = """\
Evaluate a trained run on a test set (by default the test split of the dataset it was trained
on; --split val: the run's own validation images, drawn again from its seed and val_split;
--split train: the whole training set): accuracy, mean cross-entropy loss, the confusion
matrix (rows: true class, columns: predicted class) and precision, recall, F1 and support
per class. --json prints the same as one JSON object: accuracy, loss, confusion_matrix,
per_class, n, dataset, split, run."""

EXAMPLES = """\
  barenet evaluate runs/mlp                       tables on the MNIST test set
  barenet evaluate runs/mlp --json | jq .accuracy
  barenet evaluate runs/fashion --data-dir ~/data/fashion-mnist
  barenet evaluate runs/mlp --split val           the validation images it chose its epoch on
  barenet evaluate runs/mlp --split train         how well it fits its training data"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "evaluate", "test accuracy, confusion matrix, per-class scores",
                    DESCRIPTION, EXAMPLES)
    p.add_argument("run", metavar="RUN", help="run directory written by `barenet train`")
    add_data_args(p, "dataset to evaluate on (default: the one the run was trained on)")
    p.add_argument("--split", default="test", choices=("test", "val", "train"), type=str.lower,
                   help="test, val (the run's own validation split) or train (default: test)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="evaluate on the first N images only (quick checks)")
    p.add_argument("--no-plots", action="store_true",
                   help="do not redraw the run's figures (confusion matrix, curves, ...)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..data.datasets import load_dataset
    from ..train.checkpoint import load_run
    from ..train.evaluate import evaluate_run, validation_set
    from ..train.fileio import dumps_strict, printable

    run_ = load_run(args.run)
    name = args.dataset or run_.dataset
    # the run's own dataset from its recorded facts (a folder's checksums are verified)
    source = run_.dataset_spec if args.dataset is None else args.dataset
    data_dir = run_.data_dir(args.data_dir, args.dataset)
    if args.split == "val":
        if name != run_.dataset:
            raise ConfigError(f"{run_.run_dir}: --split val is the validation split of "
                              f"{printable(run_.dataset, 60)}, the dataset it was trained on, "
                              f"not {printable(name, 60)}")
        dataset = validation_set(run_, data_dir)
    else:
        dataset = load_dataset(source, args.split, data_dir=data_dir)
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

    classes = [printable(c["class"], 40) for c in result["per_class"]]
    short = [c if len(c) <= 8 else c[:7] + "." for c in classes]
    cm = np.asarray(result["confusion_matrix"])
    lines = [f"run       {run_.run_dir} ({printable(run_.spec['name'], 40)}, trained on "
             f"{printable(run_.dataset, 60)})",
             f"dataset   {printable(result['dataset'], 60)} {_split_name(result, run_)}, "
             f"{result['n']} images",
             f"accuracy  {pct(result['accuracy'])}  ({int(np.trace(cm))} of {result['n']} "
             f"correct)",
             f"loss      {result['loss']:.4f}  (mean cross-entropy)",
             "", "confusion matrix (rows: true class, columns: predicted class)"]
    lines.append(table(["true \\ pred", *short], [[c, *row] for c, row in zip(short, cm.tolist())]))
    rows = [[name, f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}",
             c["support"]] for name, c in zip(classes, result["per_class"])]
    k = max(len(rows), 1)
    rows.append(["macro avg", f"{sum(c['precision'] for c in result['per_class']) / k:.4f}",
                 f"{sum(c['recall'] for c in result['per_class']) / k:.4f}",
                 f"{sum(c['f1'] for c in result['per_class']) / k:.4f}", result["n"]])
    lines += ["", table(["class", "precision", "recall", "f1", "support"], rows)]
    return "\n".join(lines)
