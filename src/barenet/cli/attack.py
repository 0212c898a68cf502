"""``barenet attack RUN...``: how much accuracy the fast gradient sign method takes away."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..atomic import check_replaceable
from ..errors import ConfigError
from ..train.fileio import dumps_strict
from .common import add_command, pct, positive_int, table
from .pictures import require_matplotlib

#: Most runs one call attacks
MAX_RUNS = 10
#: What --out DIR receives
FIGURES = ("robustness.png", "adversarial_examples.png")
#: Test images per run shown in adversarial_examples.png
SHOWN = 6

DESCRIPTION = """\
Attack runs with the fast gradient sign method (FGSM) on the first N test images of each
run's dataset: every pixel p in [0, 1] of the preprocessed 28x28 image moves by eps in the
direction that raises the loss of the true label,

    x_adv = clip(p + eps * sign(d loss(p, label) / d p), 0, 1),

and the accuracy is measured at each eps. At eps 0 it is `barenet evaluate --limit N`'s
accuracy. --json prints a list, per run: run, eps, accuracy (one per eps), n. --out DIR
writes DIR/robustness.png (accuracy against eps, one line per run) and
DIR/adversarial_examples.png (each run's first test images at every eps, with the new
predictions). An existing figure is replaced only with --overwrite (refused before any work);
DIR's other files are kept."""

EXAMPLES = """\
  barenet attack runs/mlp runs/cnn                     accuracy at eps 0, 0.02, 0.05, 0.1, 0.2
  barenet attack runs/cnn --eps 0,0.1,0.3 --limit 500
  barenet attack runs/mlp runs/cnn --json --out figs/  figs/robustness.png and the examples"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "attack", "accuracy under adversarial pixels (FGSM) per eps",
                    DESCRIPTION, EXAMPLES)
    p.add_argument("runs", metavar="RUN", nargs="+", help="run directories to attack")
    p.add_argument("--eps", default="0,0.02,0.05,0.1,0.2", metavar="E[,E...]",
                   help="attack strengths, comma-separated, each in [0, 1] (default: "
                        "0,0.02,0.05,0.1,0.2; sorted, at most 20)")
    p.add_argument("--limit", type=positive_int, default=1000, metavar="N",
                   help="attack the first N test images (default: 1000)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per run")
    p.add_argument("--out", metavar="DIR", help="write robustness.png and adversarial_examples.png")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the figures if DIR holds them already")
    p.add_argument("--data-dir", metavar="D", help="where the test sets are")
    p.set_defaults(func=run)
    return p


def parse_eps(text: str) -> list[float]:
    """``--eps``: comma-separated numbers in [0, 1], sorted; ConfigError otherwise."""
    from ..explain.attack import MAX_EPS_VALUES, check_eps

    parts = text.split(",")
    if len(parts) > MAX_EPS_VALUES:
        raise ConfigError(f"--eps: {len(parts)} values, expected at most {MAX_EPS_VALUES}")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise ConfigError(f"--eps: expected comma-separated numbers such as 0,0.05,0.1, got "
                          f"{text[:60]!r}") from None
    try:
        return check_eps(values)
    except ValueError as exc:
        raise ConfigError(f"--eps: {exc}") from None


def run_names(paths: list[str]) -> list[str]:
    """Legend names: each run directory's name, or its path where two names agree."""
    names = [Path(p).resolve().name or str(p) for p in paths]
    return [n if names.count(n) == 1 else str(p) for n, p in zip(names, paths)]


def run(args: argparse.Namespace) -> int:
    from ..data.datasets import load_dataset
    from ..explain.attack import attack_run
    from ..train.checkpoint import load_run

    eps = parse_eps(args.eps)
    if len(args.runs) > MAX_RUNS:
        raise ConfigError(f"attack: {len(args.runs)} runs, expected at most {MAX_RUNS}")
    if args.out:
        require_matplotlib()
        check_replaceable([Path(args.out) / name for name in FIGURES], args.overwrite)
    runs = [load_run(path) for path in args.runs]          # every run checked before any work
    results: list[dict[str, Any]] = []
    test_sets: dict[tuple, Any] = {}
    for run_ in runs:
        key = (run_.dataset, run_.data_dir(args.data_dir))
        if key not in test_sets:
            test_sets[key] = load_dataset(run_.dataset_spec, "test", data_dir=key[1])
        test = test_sets[key]
        n = min(args.limit, len(test.labels))
        results.append(attack_run(run_, test.images[:n], test.labels[:n], eps,
                                  keep=SHOWN if args.out else 0))
    names = run_names(args.runs)
    if args.json:
        print(dumps_strict([{k: r[k] for k in ("run", "eps", "accuracy", "n")} for r in results]))
    else:
        datasets = sorted({r.dataset for r in runs})
        print(f"FGSM on the first {results[0]['n']} {' / '.join(datasets)} test images: "
              f"accuracy at each eps (pixels span 0 to 1)")
        print(table(["run", *(f"eps {e:g}" for e in eps)],
                    [[name, *(pct(a) for a in r["accuracy"])] for name, r in zip(names, results)]))
    if args.out:
        from ..explain.figures import plot_adversarial, plot_robustness

        n = results[0]["n"]
        paths = [plot_robustness(results, names, Path(args.out) / FIGURES[0],
                                 title=f"FGSM on the first {n} test images"),
                 plot_adversarial(results, names, [[str(c) for c in r.classes] for r in runs],
                                  Path(args.out) / FIGURES[1])]
        if not args.json:
            print("figures: " + ", ".join(str(p) for p in paths))
    return 0
