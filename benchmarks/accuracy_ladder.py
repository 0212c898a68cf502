"""The accuracy ladder: train every named model on MNIST and Fashion-MNIST, record the result.

Each (model, dataset) pair is trained with `barenet train`'s own defaults for that model (the
same code path as the CLI: ``barenet.train.api.train_model``), evaluated on the full test set,
and recorded in a JSON file of results that accumulates across invocations, so the ladder can be
built a few rungs at a time. The README table is rendered from that file.

    python benchmarks/accuracy_ladder.py                          # every model, both datasets
    python benchmarks/accuracy_ladder.py --models mlp,cnn --datasets mnist
    python benchmarks/accuracy_ladder.py --jobs 2                 # two runs at once, 1 BLAS thread each
    python benchmarks/accuracy_ladder.py --render-only --readme README.md

Times are wall-clock seconds of training (all epochs, validation included; data loading and the
final test evaluation excluded) on the machine the script ran on, recorded with the number of
runs that shared it (``--jobs``) and the BLAS threads each had.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import cpu_model

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results" / "ladder.json"
MODELS = ["mlp", "mlp-deep", "lenet5", "cnn", "cnn-large", "rnn", "lstm", "gru", "vit"]
DATASETS = ["mnist", "fashion-mnist"]
START, END = "<!-- ladder:start -->", "<!-- ladder:end -->"

# Targets (test accuracy) the project holds itself to, for the table's last column.
TARGETS = {("cnn", "mnist"): 0.993, ("cnn-large", "mnist"): 0.995,
           ("cnn-large", "fashion-mnist"): 0.925, ("mlp", "fashion-mnist"): 0.89,
           ("mlp", "mnist"): 0.98, ("lstm", "mnist"): 0.985, ("vit", "mnist"): 0.975}


def train_one(model: str, dataset: str, seed: int, runs_dir: str | None,
              overrides: dict[str, Any]) -> dict[str, Any]:
    """Train ``model`` on ``dataset`` with the CLI defaults; returns one result record."""
    from barenet.models import build_model, count_parameters
    from barenet.train.api import train_model

    out = None
    if runs_dir is not None:
        out = Path(runs_dir) / f"{model}-{dataset}-seed{seed}"
        if out.exists():
            out = Path(f"{out}-{datetime.now():%Y%m%d-%H%M%S}")
    config = {"model": model, "dataset": dataset, "seed": seed, **overrides}
    start = time.perf_counter()
    result = train_model(config, out_dir=out, plots=out is not None)
    wall = time.perf_counter() - start
    hp = result.config.get("hyperparameters", {})
    return {
        "model": model, "dataset": dataset, "seed": seed,
        "parameters": count_parameters(build_model(result.config["model"], rng=0)),
        "epochs": result.epochs_completed,
        "test_accuracy": result.test_accuracy, "test_loss": result.test_loss,
        "best_val_acc": result.best_val_acc,
        "train_seconds": round(result.config.get("training_seconds", result.seconds), 1),
        "wall_seconds": round(wall, 1),
        "optimizer": hp.get("optimizer"), "lr": hp.get("lr"), "batch_size": hp.get("batch_size"),
        "scheduler": hp.get("scheduler"), "augment": hp.get("augment"),
        "run_dir": None if out is None else str(out),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def load_results(path: Path) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    return {"results": []}


def save_results(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def record(path: Path, rec: dict[str, Any]) -> None:
    """Replace any earlier result of the same (model, dataset) with ``rec``."""
    data = load_results(path)
    data["results"] = [r for r in data["results"]
                       if (r["model"], r["dataset"]) != (rec["model"], rec["dataset"])] + [rec]
    save_results(path, data)


def render(data: dict[str, Any]) -> str:
    """The README table: one row per model, MNIST and Fashion-MNIST side by side."""
    by = {(r["model"], r["dataset"]): r for r in data["results"]}
    lines = ["| model | parameters | MNIST test accuracy | epochs | training time "
             "| Fashion-MNIST test accuracy | epochs | training time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for model in MODELS:
        recs = [by.get((model, d)) for d in DATASETS]
        if not any(recs):
            continue
        params = next(r["parameters"] for r in recs if r)
        cells = [f"`{model}`", f"{params:,}"]
        for rec, dataset in zip(recs, DATASETS):
            if rec is None:
                cells += ["not run", "", ""]
                continue
            acc = f"{100 * rec['test_accuracy']:.2f}%"
            target = TARGETS.get((model, dataset))
            if target is not None:
                mark = "meets" if rec["test_accuracy"] >= target else "**below**"
                acc += f" ({mark} {100 * target:.1f}%)"
            aug = " + aug" if rec.get("augment") else ""
            cells += [acc, f"{rec['epochs']}{aug}", _duration(rec["train_seconds"])]
        lines.append("| " + " | ".join(cells) + " |")
    jobs = sorted({str(r.get("parallel_runs", 1)) for r in data["results"]})
    threads = sorted({str(r.get("blas_threads")) for r in data["results"]})
    machine = data.get("machine", "")
    lines += ["", f"Measured by `python benchmarks/accuracy_ladder.py` on {machine}; "
              f"each model with `barenet train --model NAME`'s defaults, seed 0; "
              f"runs sharing the machine at once: {', '.join(jobs)}; BLAS threads per run: "
              f"{', '.join(threads)}. Raw numbers: `benchmarks/results/ladder.json`."]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def replace_in_readme(readme: Path, table: str) -> bool:
    text = readme.read_text()
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    return True


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    p.add_argument("--datasets", default=",".join(DATASETS), help="mnist, fashion-mnist")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1,
                   help="runs at once, in separate processes with 1 BLAS thread each")
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                   help=f"JSON file of results, updated in place (default: {DEFAULT_RESULTS})")
    p.add_argument("--runs-dir", default=None, help="keep each run directory under this folder")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training setting for every run (JSON value), e.g. epochs=2")
    p.add_argument("--readme", type=Path, help="replace the table between ladder markers")
    p.add_argument("--render-only", action="store_true", help="only re-render the table")
    args = p.parse_args(argv)

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.replace("-", "_")] = value
    if not args.render_only:
        pairs = [(m, d) for d in args.datasets.split(",") for m in args.models.split(",")]
        if args.jobs > 1:
            os.environ["OPENBLAS_NUM_THREADS"] = "1"  # inherited by the worker processes
            os.environ["OMP_NUM_THREADS"] = "1"
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(train_one, m, d, args.seed, args.runs_dir, overrides): (m, d)
                       for m, d in pairs}
            for fut, (m, d) in futures.items():
                rec = fut.result()
                rec["parallel_runs"] = args.jobs
                rec["overrides"] = overrides
                record(args.results, rec)
                print(f"{m:10s} {d:14s} test accuracy {100 * rec['test_accuracy']:.2f}%  "
                      f"{rec['epochs']} epochs  {rec['train_seconds']:.0f} s", flush=True)
        data = load_results(args.results)
        data["machine"] = machine()
        save_results(args.results, data)
    data = load_results(args.results)
    table = render(data)
    print(table)
    if args.readme is not None and not replace_in_readme(args.readme, table):
        print(f"{args.readme}: no {START} / {END} markers; nothing replaced", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
