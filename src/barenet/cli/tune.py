"""``barenet tune``: a learning-rate sweep, an Optuna search over several hyper-parameters, or
a learning-rate range test (``--lr-find``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import BarenetError, ConfigError
from ..train.claim import claim_dir
from ..train.outputs import check_output, remove_ours
from .common import finite_float, int_list
from .tune_lr_find import given_flags, run_lr_find

DESCRIPTION = """\
Find good hyper-parameters. Each trial trains briefly and is scored by its validation accuracy
(the test accuracy is only reported, never used to choose).

Without --trials: a sweep of one parameter over a grid -- by default the learning rate over
9 points from 1e-4 to 1 (1e-4, 3e-4, 1e-3, ...) -- drawn as accuracy vs the parameter.

With --lr-find: a learning-rate range test instead, in seconds: one short run whose
learning rate grows exponentially from --start-lr to --end-lr over --num-batches batches
(stopping once the smoothed loss exceeds 4x its lowest), starting from the weights barenet
train would start from. It suggests a rate (a tenth of the rate at the lowest smoothed loss,
the rule that agrees with the sweep), prints the barenet train line that uses it, and writes
DIR/lr_find.json (the curve, the suggestion, the rule, the settings) and DIR/lr_find.png.

With --trials N: an Optuna search (pip install "barenet[tune]") over lr, batch_size, hidden,
optimizer and weight_decay (or the --param names given) until the study has N finished trials.
The study lives in --storage (default sqlite:///DIR/study.db), so --jobs J worker processes,
or other machines given the same PostgreSQL URL and --study name, share it (they may start at
the same moment; each stops once the study has N finished trials); re-running the same command
continues an interrupted study, and a larger N extends it. A PostgreSQL URL is written
postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE (the psycopg driver comes with the extra); the
password is shown and saved as ***.

Writes DIR/results.json (every trial and the best config), DIR/best.json (train with it:
barenet train --config DIR/best.json; it leaves out the trials' few epochs, so training uses
the model's default unless --epochs is given) and DIR/*.png. An existing DIR is refused unless
it holds the same search to continue, or --overwrite is given (which replaces only tune's files
in DIR, and starts a new study in DIR/study.db)."""

EPILOG = """examples:
  barenet tune --out tune-lr/                            learning-rate sweep, 2 epochs each
  barenet tune --param batch_size --out tune-bs/         sweep the batch size instead
  barenet tune --param lr --values 0.01 0.03 0.1 --out t/
  barenet tune --lr-find --out lrf/                      range test for the default MLP
  barenet tune --lr-find --model cnn --optimizer adam --out lrf-cnn/
  barenet tune --trials 30 --jobs 2 --out study/         Optuna search in 2 processes
  barenet tune --trials 50 --storage postgresql://user:pw@host/db --study mnist --out s/"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..tune import SEARCH_SPACE
    from ..tune.lr_find import DEFAULT_RULE, END_LR, NUM_BATCHES, RULES, START_LR

    parser = subparsers.add_parser(
        "tune", help="sweep the learning rate, search hyper-parameters with Optuna, or "
        "run a learning-rate range test",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--param", nargs="+", action="extend", metavar="NAME",
                        help="what to vary: " + ", ".join(SEARCH_SPACE) + " (default: lr for "
                        "a sweep; lr batch_size hidden optimizer weight_decay for a search)")
    parser.add_argument("--values", nargs="+", metavar="V",
                        help="the sweep's grid instead of the default one")
    parser.add_argument("--trials", type=int, metavar="N",
                        help="search with Optuna until the study has N finished trials")
    parser.add_argument("--jobs", type=int, metavar="J",
                        help="trials in parallel, one process each (default: 1)")
    parser.add_argument("--storage", metavar="URL",
                        help="Optuna storage: sqlite:///path.db or "
                        "postgresql://user:pw@host[:port]/db (default: sqlite:///DIR/study.db)")
    parser.add_argument("--study", metavar="NAME", help="study name (default: barenet-<DIR name>)")
    parser.add_argument("--epochs", type=int, metavar="N",
                        help="epochs per trial (default: 2)")
    parser.add_argument("--model", metavar="NAME", help="architecture (default: mlp)")
    parser.add_argument("--dataset", metavar="NAME", help="mnist or fashion-mnist (default: mnist)")
    t = parser.add_argument_group("settings not varied (default: barenet train's for the model)")
    t.add_argument("--hidden", type=int_list, metavar="N[,N...]", help="hidden width(s)")
    t.add_argument("--batch-size", type=int, metavar="B", help="batch size")
    t.add_argument("--lr", type=finite_float, metavar="LR", help="learning rate")
    t.add_argument("--optimizer", metavar="NAME", help="sgd, adam, adamw or rmsprop")
    t.add_argument("--momentum", type=finite_float, metavar="M",
                   help="SGD/RMSprop momentum, Adam's beta1")
    t.add_argument("--weight-decay", type=finite_float, metavar="WD", help="L2 penalty")
    f = parser.add_argument_group("learning-rate range test")
    f.add_argument("--lr-find", action="store_true",
                   help="run the range test instead of a sweep or a search")
    f.add_argument("--start-lr", type=finite_float, metavar="LR",
                   help=f"first learning rate (default: {START_LR:g})")
    f.add_argument("--end-lr", type=finite_float, metavar="LR",
                   help=f"last learning rate (default: {END_LR:g})")
    f.add_argument("--num-batches", type=int, metavar="N",
                   help=f"batches from --start-lr to --end-lr (default: {NUM_BATCHES})")
    f.add_argument("--rule", metavar="NAME",
                   help=f"how the rate is read off the curve: {' or '.join(RULES)} "
                        f"(default: {DEFAULT_RULE})")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of every trial, or of the range test (default: 0)")
    parser.add_argument("--val-split", type=finite_float, default=0.1, metavar="F",
                        help="fraction of training data held out to score trials (default: 0.1)")
    parser.add_argument("--limit-train", type=int, metavar="N",
                        help="train on N training images only (faster trials)")
    parser.add_argument("--data-dir", metavar="D", help="where the dataset is")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the results already in DIR (other files are kept)")
    parser.set_defaults(func=run)
    return parser


def _parse_values(param: str, raw: list[str]) -> list[Any]:
    kind = {"batch_size": int, "hidden": int, "optimizer": str}.get(param, float)
    try:
        return [kind(v) for v in raw]
    except ValueError:
        raise ConfigError(f"--values: {param} takes {kind.__name__} values, got {raw}") from None


def base_config(args: argparse.Namespace) -> dict:
    """The training config every trial starts from (only the keys the user set, plus epochs)."""
    keys = ("model", "dataset", "hidden", "batch_size", "lr", "optimizer", "momentum",
            "weight_decay", "seed", "epochs", "val_split", "limit_train", "data_dir")
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}


def run(args: argparse.Namespace) -> int:
    from .. import tune

    if args.lr_find:
        return run_lr_find(args, base_config(args))
    extra = given_flags(args, ("start_lr", "end_lr", "num_batches", "rule"))
    if extra:
        raise ConfigError(f"{extra[0]} is for the learning-rate range test: add --lr-find")
    args.epochs = 2 if args.epochs is None else args.epochs
    args.jobs = 1 if args.jobs is None else args.jobs
    for name in ("epochs", "jobs", "trials", "limit_train"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not 0 < args.val_split < 1:
        raise ConfigError(f"--val-split must be between 0 and 1 (trials are scored on it), "
                          f"got {args.val_split}")
    searching = args.trials is not None
    params = tune.check_params(args.param or (tune.DEFAULT_SEARCH if searching else ["lr"]),
                               search=searching)
    base = base_config(args)
    out = Path(args.out)
    if not args.overwrite:   # --overwrite replaces a link itself, never what it points to
        tune.refuse_links(out, TUNE_FILES)
    if not (searching and _continues_study(out, args)):
        check_output(out, TUNE_FILES, args.overwrite, "tune results")
    if searching:
        if args.values:
            raise ConfigError("--values is for a sweep; a search (--trials) draws its own values")
        if args.storage:
            tune.check_storage(args.storage)   # before DIR is made
        params = _drop_inapplicable(params, base)
        if args.overwrite and args.storage is None and out.is_dir():
            remove_ours(out, STUDY_FILES)   # a new study
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        try:
            results = tune.search(base, params, args.trials, out, jobs=args.jobs,
                                  storage=args.storage, study_name=args.study, progress=print)
        except KeyboardInterrupt:
            print("interrupted: the finished trials are kept in the study; run the same "
                  "command again to continue it", file=sys.stderr)
            raise
        except BarenetError:
            if created and not any(out.iterdir()):  # e.g. the storage could not be opened
                out.rmdir()
            raise
        return _report(out, results, args.overwrite)
    if args.storage or args.study:
        raise ConfigError("--storage and --study need --trials N (an Optuna search)")
    values = _parse_values(params[0], args.values) if args.values else None
    with claim_dir(out):   # one sweep writes into DIR at a time
        check_output(out, TUNE_FILES, args.overwrite, "tune results", claimed=True)
        if not args.overwrite:
            tune.refuse_links(out, TUNE_FILES)
        results = tune.sweep(base, params[0], values, jobs=args.jobs, progress=print)
        return _report(out, results, args.overwrite)


#: What ``barenet tune`` writes into DIR (``--overwrite`` replaces these, nothing else).
TUNE_FILES = ("results.json", "best.json", "accuracy_vs_*.png", "history.png", "study.db",
              "study.db-journal", "study.db-wal", "study.db-shm")
STUDY_FILES = ("study.db", "study.db-journal", "study.db-wal", "study.db-shm")


def _continues_study(out: Path, args: argparse.Namespace) -> bool:
    """True if DIR holds the search this command continues: its default study.db, or a
    results.json of the same study and storage."""
    from ..train.fileio import read_json
    from ..tune import redact, storage_url

    if args.overwrite or not out.is_dir():
        return False
    if args.storage is None:
        return (out / "study.db").is_file()
    try:
        res = read_json(out / "results.json")
    except BarenetError:
        return False
    study = args.study or f"barenet-{out.resolve().name}"
    return (res.get("mode") == "optuna" and res.get("study") == study
            and res.get("storage") == redact(storage_url(args.storage)))


def _report(out: Path, results: dict, overwrite: bool) -> int:
    """Write results.json, best.json and the figures into ``out``; print the outcome."""
    from .. import tune
    from ..atomic import atomic_write_json

    if overwrite:   # figures of an earlier run that this one may not draw again
        remove_ours(out, [p for p in TUNE_FILES if p.endswith(".png")])
    written = [atomic_write_json(out / "results.json", results)]
    best = tune.recommended_config(results)
    if best is not None:
        best.pop("data_dir", None)
        written.append(atomic_write_json(out / "best.json", best))
    elif (out / "best.json").exists():
        (out / "best.json").unlink()   # it described another search
    try:
        written += tune.plot_results(results, out)
    except ImportError:
        print('no plots: matplotlib is not installed (pip install "barenet[cli]")')
    if best is None:
        print("no trial finished with a validation accuracy")
    else:
        b = results["best"]
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in b["params"].items())
        print(f"best: {shown} (validation accuracy {b['value']:.4f})")
        print(f"train with it: barenet train --config {out / 'best.json'} (the model's default "
              "epochs; add --epochs N to choose)")
    for path in written:
        print(f"wrote {path}")
    return 0 if best is not None else 1


def _drop_inapplicable(params: list[str], base: dict) -> list[str]:
    """Leave out ``hidden`` for models without a hidden size (e.g. CNNs)."""
    if "hidden" not in params or "model" not in base:
        return params
    from ..models import default_spec

    if "hidden" in default_spec(base["model"]):
        return params
    print(f"model {base['model']} has no hidden size: not searching 'hidden'")
    return [p for p in params if p != "hidden"]
