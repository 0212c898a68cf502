"""Does the learning-rate range test suggest a rate as good as the sweep's best?

For the default MLP (``barenet train``'s defaults: 784-200-10, SGD with momentum 0.9, weight
decay 5e-4, batch 64, cosine schedule, seed 0):

1. the learning-rate sweep of ``barenet tune`` with no options (9 rates from 1e-4 to 1, two
   epochs each, scored by validation accuracy), or a sweep's results.json given by
   ``--sweep-results``;
2. the range test (``barenet tune --lr-find``'s defaults) for each ``--seeds`` seed, both
   rules recorded;
3. ``barenet train`` with the first seed's suggestion (the model's default 15 epochs).

It checks that every suggestion is within a factor of 3 of the sweep's best rate and that the
training reaches at least 98% test accuracy, prints what it measured, and exits with status 1
if a check fails. A few minutes on 2 cores (the sweep is most of it).

    python benchmarks/lr_find_check.py
    python benchmarks/lr_find_check.py --seeds 0 1 2 3 4 --json lr_find_check.json
    python benchmarks/lr_find_check.py --sweep-results tune-lr/results.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import cpu_model

FACTOR = 3.0          # the suggestion must lie within this factor of the sweep's best rate
TARGET = 0.98         # test accuracy of the default MLP trained with the suggestion


def run_sweep(path: str | None) -> tuple[dict[str, Any], float]:
    """(the sweep's results, seconds): ``barenet tune``'s default sweep, or one read back."""
    from barenet.tune import sweep

    start = time.perf_counter()
    if path:
        results = json.loads(Path(path).read_text())
        if results.get("mode") != "sweep" or results.get("param") != "lr":
            raise SystemExit(f"{path}: not the results of a learning-rate sweep")
    else:   # what `barenet tune --out DIR` runs: the lr grid, 2 epochs per trial
        results = sweep({"epochs": 2, "seed": 0, "val_split": 0.1}, "lr",
                        progress=lambda msg: print("  sweep", msg, flush=True))
    return results, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the range tests (default: 0 1 2)")
    parser.add_argument("--sweep-results", metavar="FILE",
                        help="a results.json of `barenet tune` (default: run the sweep)")
    parser.add_argument("--json", metavar="OUT", help="write every number to OUT")
    args = parser.parse_args(argv)

    from barenet.train.api import train_model
    from barenet.tune import lr_find_config

    sweep_results, sweep_s = run_sweep(args.sweep_results)
    best = float(sweep_results["best"]["params"]["lr"])
    print(f"sweep: best lr {best:g} (validation accuracy {sweep_results['best']['value']:.4f})"
          f", {sweep_s:.0f} s")
    tests = []
    for seed in args.seeds:
        start = time.perf_counter()
        result, _ = lr_find_config({"seed": seed})
        seconds = time.perf_counter() - start
        tests.append({"seed": seed, "suggestion": result.suggestion, "rule": result.rule,
                      "candidates": result.candidates, "min_loss_lr": result.min_loss_lr,
                      "batches_run": len(result.lrs), "stop": result.stop,
                      "seconds": round(seconds, 2)})
        shown = ", ".join(f"{r} {v:.3g}" if v else f"{r} none"
                          for r, v in result.candidates.items())
        print(f"range test, seed {seed}: {shown} (suggestion: {result.rule}; {seconds:.1f} s)")
    lr = tests[0]["suggestion"]
    failures = []
    for t in tests:
        for rule, value in t["candidates"].items():
            t.setdefault("factor", {})[rule] = None if not value else max(value / best,
                                                                          best / value)
        factor = t["factor"][t["rule"]]
        if factor is None or factor > FACTOR:
            failures.append(f"seed {t['seed']}: suggestion {t['suggestion']} is not within a "
                            f"factor of {FACTOR:g} of the sweep's best {best:g}")
    training = None
    if lr is not None:
        start = time.perf_counter()
        res = train_model({"lr": lr})
        training = {"lr": lr, "epochs": res.epochs_completed,
                    "test_accuracy": res.test_accuracy,
                    "seconds": round(time.perf_counter() - start, 1)}
        print(f"train --lr {lr:.3g}: test accuracy {res.test_accuracy:.4f} after "
              f"{res.epochs_completed} epochs ({training['seconds']:.0f} s)")
        if res.test_accuracy < TARGET:
            failures.append(f"training with lr {lr:.3g} reached {res.test_accuracy:.4f}, "
                            f"below {TARGET}")
    for t in tests:
        print(f"seed {t['seed']}: factor to the sweep's best: " + ", ".join(
            f"{r} {f:.2f}" if f else f"{r} -" for r, f in t["factor"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "cpu": cpu_model(), "sweep_best_lr": best, "sweep_seconds": round(sweep_s, 1),
            "sweep": [{"lr": t["params"]["lr"], "val_acc": t.get("value"),
                       "test_accuracy": t.get("test_accuracy")}
                      for t in sweep_results["trials"]],
            "range_tests": tests, "training": training, "failures": failures}, indent=2) + "\n")
    for f in failures:
        print(f"FAIL: {f}")
    print("OK" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
