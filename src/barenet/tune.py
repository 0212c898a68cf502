"""Hyper-parameter tuning: a grid sweep of one parameter (this module) or an Optuna search
over several (``barenet.study``).

Every trial trains briefly with ``barenet.train.api.train_model`` and is scored by its
validation accuracy (never the test set, which is only reported). ``sweep`` runs a grid, by
default the learning rate from 1e-4 to 1; ``plot_results`` draws either kind of results and
``best_config`` turns the best trial into a config ``barenet train --config`` accepts.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .errors import ConfigError, TrainingDiverged

#: Grid per parameter for ``sweep`` (lr: 1e-4 to 1 in steps of about x3, evenly spaced in log).
SWEEP_GRIDS: dict[str, list] = {
    "lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0],
    "batch_size": [16, 32, 64, 128, 256],
    "hidden": [32, 64, 128, 256, 512],
    "weight_decay": [0.0, 1e-5, 1e-4, 1e-3, 1e-2],
    "momentum": [0.0, 0.5, 0.9, 0.95, 0.99],
    "optimizer": ["sgd", "adam", "adamw", "rmsprop"],
}
#: Optuna's search space: (kind, low or choices, high, log).
SEARCH_SPACE: dict[str, tuple] = {
    "lr": ("float", 1e-4, 1.0, True),
    "batch_size": ("categorical", [32, 64, 128, 256], None, False),
    "hidden": ("int", 32, 512, True),
    "optimizer": ("categorical", ["sgd", "adam"], None, False),
    "weight_decay": ("float", 1e-6, 1e-2, True),
    "momentum": ("float", 0.0, 0.99, False),
}
DEFAULT_SEARCH = ["lr", "batch_size", "hidden", "optimizer", "weight_decay"]
Progress = Callable[[str], None]


def check_params(params: list[str], search: bool) -> list[str]:
    """Validate parameter names for a sweep (exactly one) or a search (one or more)."""
    table = SEARCH_SPACE if search else SWEEP_GRIDS
    unknown = [p for p in params if p not in table]
    if unknown:
        raise ConfigError(f"tune: unknown parameter {unknown[0]!r}; expected one of "
                          + ", ".join(table))
    if not search and len(params) != 1:
        raise ConfigError(f"tune: a sweep varies one parameter, got {len(params)} "
                          "(use --trials N to search several with Optuna)")
    return list(dict.fromkeys(params))


def train_trial(config: dict, callbacks: Sequence[Any] = ()) -> dict:
    """Train one configuration; return {value, val_acc, test_accuracy, seconds, history}."""
    from .train.api import train_model

    start = time.perf_counter()
    result = train_model(config, None, quiet=True, callbacks=callbacks)
    history = [dict(h) for h in result.history]
    last = history[-1] if history else {}
    val = result.best_val_acc if result.best_val_acc is not None else last.get("val_acc")
    test = result.test_accuracy
    return {"value": float(val) if val is not None else None,
            "val_acc": None if val is None else float(val),
            "test_accuracy": None if test is None else float(test),
            "train_loss": last.get("train_loss"),
            "seconds": round(time.perf_counter() - start, 3),
            "history": [{k: v for k, v in h.items() if isinstance(v, (int, float, type(None)))}
                        for h in history]}


@contextmanager
def blas_threads(n: int) -> Iterator[None]:
    """Set the BLAS thread variables that child processes inherit; restore them afterwards."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    old = {k: os.environ.get(k) for k in names}
    os.environ.update({k: str(n) for k in names})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def worker_threads(jobs: int) -> int:
    """BLAS threads per process when ``jobs`` processes share the CPUs."""
    from .torch_twin import numpy_threads

    return max(1, numpy_threads() // max(1, jobs))


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which terminates them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sweep_one(config: dict) -> dict:
    try:
        return {"state": "COMPLETE", **train_trial(config)}
    except TrainingDiverged as exc:
        return {"state": "DIVERGED", "value": None, "error": str(exc)}


def sweep(base: dict, param: str, values: list | None = None, jobs: int = 1,
          progress: Progress | None = None) -> dict:
    """Train ``base`` once per value of ``param`` (``values`` or its default grid), in ``jobs``
    processes. Returns {"mode": "sweep", "param", "objective": "val_acc", "base_config",
    "trials": [{number, params, state, value, val_acc, test_accuracy, seconds, history, ...}],
    "best": {params, value, config} or None}; a diverged trial has state "DIVERGED"."""
    from .train.config import resolve_config

    say = progress or (lambda msg: None)
    values = list(values if values else SWEEP_GRIDS[param])
    configs = [{**base, param: v} for v in values]
    for cfg in configs:  # every bad setting fails here, before any training
        resolve_config(cfg)
    trials: list[dict] = []
    if jobs > 1:
        with blas_threads(worker_threads(jobs)):
            pool = mp.get_context("spawn").Pool(jobs, initializer=_ignore_sigint)
        try:
            for i, (v, out) in enumerate(zip(values, pool.imap(_sweep_one, configs))):
                trials.append(_sweep_record(i, param, v, out, say))
            pool.close()
        except BaseException:  # Ctrl-C or an error: stop the running trials at once
            pool.terminate()
            raise
        finally:
            pool.join()
    else:
        for i, (v, cfg) in enumerate(zip(values, configs)):
            trials.append(_sweep_record(i, param, v, _sweep_one(cfg), say))
    done = [t for t in trials if t["value"] is not None]
    best = max(done, key=lambda t: t["value"]) if done else None
    return {"mode": "sweep", "param": param, "objective": "val_acc", "base_config": base,
            "trials": trials,
            "best": None if best is None else {"params": best["params"], "value": best["value"],
                                               "config": {**base, **best["params"]}}}


def _sweep_record(i: int, param: str, value: Any, out: dict, say: Progress) -> dict:
    rec = {"number": i, "params": {param: value}, **out}
    if rec["value"] is None:
        say(f"{param}={value}: {out.get('error', 'no validation accuracy')}")
    else:
        say(f"{param}={value}: val acc {rec['value']:.4f}  test acc "
            f"{rec.get('test_accuracy') or float('nan'):.4f}  ({rec['seconds']:.1f}s)")
    return rec


def plot_results(results: dict, out_dir: str | os.PathLike) -> list[Path]:
    """accuracy_vs_<param>.png for a sweep; history.png and accuracy_vs_lr.png for a search."""
    from matplotlib.ticker import MaxNLocator

    from .plots import new_figure, save_figure

    out = Path(out_dir)
    rows = [t for t in results["trials"] if t.get("value") is not None]
    written = []
    params = [results["param"]] if results["mode"] == "sweep" else \
        [p for p in ("lr",) if p in results.get("params", [])]
    for param in params:
        fig = new_figure(6.5, 4.2)
        ax = fig.subplots()
        if results["mode"] == "sweep":
            _draw_sweep(ax, results["trials"], param)
        else:
            groups = sorted({str(t["params"].get("optimizer", "")) for t in rows})
            for g in groups:
                sel = [t for t in rows if str(t["params"].get("optimizer", "")) == g]
                ax.plot([t["params"][param] for t in sel], [t["value"] for t in sel], "o",
                        alpha=0.8, label=f"{g} (validation)" if g else "validation")
            ax.set_xscale("log")
        ax.set(xlabel=param, ylabel="accuracy", title=f"accuracy vs {param}")
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, out / f"accuracy_vs_{param}.png"))
    if results["mode"] == "optuna" and rows:
        fig = new_figure(6.5, 4.2)
        ax = fig.subplots()
        nums = [t["number"] for t in rows]
        vals = [t["value"] for t in rows]
        ax.plot(nums, vals, "o", label="trial")
        ax.plot(nums, np.maximum.accumulate(vals), "-", label="best so far")
        ax.set(xlabel="trial", ylabel="validation accuracy", title="optimisation history")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, out / "history.png"))
    return written


def _draw_sweep(ax: Any, trials: list[dict], param: str) -> None:
    """Validation and test accuracy along the grid; diverged values as red crosses at 0."""
    xs = [t["params"][param] for t in trials]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    order = sorted(range(len(xs)), key=lambda i: xs[i]) if numeric else range(len(xs))
    ok = [i for i in order if trials[i].get("value") is not None]
    for key, label in (("value", "validation"), ("test_accuracy", "test")):
        ax.plot([xs[i] for i in ok], [trials[i].get(key) or np.nan for i in ok], "o-",
                label=label, alpha=0.8)
    bad = [i for i in order if trials[i].get("value") is None]
    if bad:
        ax.plot([xs[i] for i in bad], [0.0] * len(bad), "x", color="red", markersize=9,
                label="diverged")
    positive = numeric and xs and min(xs) > 0
    if positive and (param in ("lr", "weight_decay") or max(xs) / min(xs) >= 10):
        ax.set_xscale("log")


def best_config(results: dict) -> dict | None:
    """The best trial's complete training config, keys as ``barenet train``'s flags (what
    ``barenet train --config best.json`` reads), or None when no trial finished."""
    from .train.config import resolve_config

    best = results.get("best")
    if not best:
        return None
    cfg = resolve_config(dict(best["config"]))
    # the data subset and location are how the search was run, not what it found
    return {k: v for k, v in cfg.items()
            if k not in ("spec", "data_dir", "limit_train", "limit_test")}
