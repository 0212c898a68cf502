"""Hyper-parameter tuning: a grid sweep of one parameter, or an Optuna search over several.

Every trial trains briefly with ``barenet.train.api.train_model`` and is scored by its final
validation accuracy (never the test set, which is only reported). ``sweep`` runs a grid (by
default the learning rate over a log grid); ``search`` runs an Optuna study whose storage
(sqlite by default, or PostgreSQL) is shared by ``jobs`` worker processes and survives
interruption: re-running with the same directory continues the study.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .errors import BarenetError, ConfigError, TrainingDiverged

OPTUNA_HINT = 'Optuna is not installed: pip install "barenet[tune]"'

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


def import_optuna() -> Any:
    """``optuna`` (logging quietened), or ConfigError with the install hint."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(OPTUNA_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


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


def train_trial(config: dict) -> dict:
    """Train one configuration; return {value, val_acc, test_accuracy, seconds, history}."""
    from .train.api import train_model

    start = time.perf_counter()
    result = train_model(config, None, quiet=True)
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


def _worker_threads(jobs: int) -> int:
    from .compare import numpy_threads

    return max(1, numpy_threads() // max(1, jobs))


def _sweep_one(config: dict) -> dict:
    try:
        return {"state": "COMPLETE", **train_trial(config)}
    except TrainingDiverged as exc:
        return {"state": "DIVERGED", "value": None, "error": str(exc)}


def sweep(base: dict, param: str, values: list | None = None, jobs: int = 1,
          progress: Progress | None = None) -> dict:
    """Train ``base`` once per grid value of ``param``; returns the results dict (see module)."""
    say = progress or (lambda msg: None)
    values = list(values if values else SWEEP_GRIDS[param])
    configs = [{**base, param: v} for v in values]
    trials: list[dict] = []
    if jobs > 1:
        with blas_threads(_worker_threads(jobs)), ProcessPoolExecutor(
                max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            outcomes = pool.map(_sweep_one, configs)
            for i, (v, out) in enumerate(zip(values, outcomes)):
                trials.append(_sweep_record(i, param, v, out, say))
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


def suggest(trial: Any, params: list[str]) -> dict:
    """Draw ``params`` from ``SEARCH_SPACE`` for an Optuna trial."""
    out = {}
    for name in params:
        kind, lo, hi, log = SEARCH_SPACE[name]
        if kind == "float":
            out[name] = trial.suggest_float(name, lo, hi, log=log)
        elif kind == "int":
            out[name] = trial.suggest_int(name, lo, hi, log=log)
        else:
            out[name] = trial.suggest_categorical(name, lo)
    return out


def _objective(base: dict, params: list[str]) -> Callable[[Any], float]:
    def objective(trial: Any) -> float:
        import optuna

        cfg = {**base, **suggest(trial, params)}
        try:
            out = train_trial(cfg)
        except TrainingDiverged as exc:
            trial.set_user_attr("error", str(exc))
            raise optuna.TrialPruned(f"diverged: {exc}") from None
        for key in ("val_acc", "test_accuracy", "seconds", "train_loss"):
            trial.set_user_attr(key, out[key])
        trial.set_user_attr("pid", os.getpid())
        if out["value"] is None:
            raise ConfigError("tune: training reported no validation accuracy; set val_split > 0")
        return out["value"]
    return objective


def redact(url: str) -> str:
    """``url`` with any password replaced by ***, for printing and results.json."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for ``url``: sqlite waits for locks, stale trials are failed."""
    optuna = import_optuna()
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=10,
                                              grace_period=30)
    except ImportError as exc:
        raise ConfigError(f"tune: storage {redact(url)} needs a driver: {exc}") from None
    except Exception as exc:  # SQLAlchemy: bad URL, unreachable server
        raise ConfigError(f"tune: cannot open storage {redact(url)}: "
                          f"{str(exc).splitlines()[0]}") from None


def _counted(study: Any) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _optimize(url: str, name: str, base: dict, params: list[str], n_trials: int,
              target: int, seed: int, say: Progress | None = None) -> None:
    """Join the study and run up to ``n_trials`` trials, stopping once it has ``target``."""
    optuna = import_optuna()
    study = optuna.load_study(study_name=name, storage=open_storage(url),
                              sampler=optuna.samplers.TPESampler(seed=seed))
    cap = optuna.study.MaxTrialsCallback(target, states=(optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED))
    callbacks = [cap] if say is None else [cap, lambda st, t: say(_describe(t))]
    study.optimize(_objective(base, params), n_trials=n_trials, callbacks=callbacks)


def _search_worker(*args: Any) -> None:
    """Worker process: ``_optimize``; Ctrl-C ends it quietly (optuna marked the trial failed)."""
    try:
        _optimize(*args)
    except KeyboardInterrupt:
        pass


def search(base: dict, params: list[str], trials: int, out_dir: str | os.PathLike,
           jobs: int = 1, storage: str | None = None, study_name: str | None = None,
           progress: Progress | None = None) -> dict:
    """Run (or continue) an Optuna study until it has ``trials`` finished trials.

    The study lives in ``storage`` (default ``sqlite:///out_dir/study.db``) under
    ``study_name`` (default ``barenet-<out_dir name>``); ``jobs`` processes share it.
    """
    optuna = import_optuna()
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    name = study_name or f"barenet-{out.resolve().name}"
    store = open_storage(url)
    study = optuna.create_study(study_name=name, storage=store, direction="maximize",
                                load_if_exists=True)
    settings = {"base_config": {k: v for k, v in base.items() if k != "data_dir"},
                "params": params}
    if "settings" not in study.user_attrs:
        study.set_user_attr("settings", settings)
    elif study.user_attrs["settings"] != settings:
        raise ConfigError(f"tune: study {name!r} in {redact(url)} was started with other "
                          "settings (model, dataset, epochs or parameters); use another --out "
                          "or --study")
    done = _counted(study)
    remaining = max(0, trials - done)
    procs = max(1, min(jobs, remaining))
    say(f"study {name!r} in {redact(url)}: {done} finished trials, running {remaining} more "
        f"in {procs} process{'es' if procs > 1 else ''}")
    seed0 = int(base.get("seed") or 0) * 1000 + len(study.trials)
    if remaining:
        shares = [remaining // jobs + (i < remaining % jobs) for i in range(jobs)]
        if jobs == 1:
            _optimize(url, name, base, params, remaining, trials, seed0, say)
        else:
            _run_workers(url, name, base, params, [s for s in shares if s], trials, seed0, say,
                         lambda: optuna.load_study(study_name=name, storage=store))
    return study_results(optuna.load_study(study_name=name, storage=store), base, url)


def _run_workers(url: str, name: str, base: dict, params: list[str], shares: list[int],
                 target: int, seed0: int, say: Progress, reload: Callable[[], Any]) -> None:
    ctx = mp.get_context("spawn")
    procs = []
    with blas_threads(_worker_threads(len(shares))):
        for i, n in enumerate(shares):
            p = ctx.Process(target=_search_worker, name=f"barenet-tune-{i}", daemon=True,
                            args=(url, name, base, params, n, target, seed0 + i))
            p.start()
            procs.append(p)
    reported: set[int] = set()
    try:
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(timeout=1.0)
            _report_new(reload(), reported, say)
    except KeyboardInterrupt:
        for p in procs:  # workers got the same Ctrl-C: let them mark their trials failed
            p.join(timeout=10)
        raise
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    _report_new(reload(), reported, say)
    failed = [p for p in procs if p.exitcode not in (0, None)]
    if failed:
        raise BarenetError(f"tune: {len(failed)} worker process(es) failed "
                           f"(exit code {failed[0].exitcode})")


def _report_new(study: Any, reported: set[int], say: Progress) -> None:
    for t in study.get_trials(deepcopy=False):
        if t.state.is_finished() and t.number not in reported:
            reported.add(t.number)
            say(_describe(t))


def _describe(t: Any) -> str:
    """One line for a finished trial: number, state, value, parameters."""
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items())
    value = f"val acc {t.value:.4f}" if t.value is not None else \
        ("diverged" if t.state.name == "PRUNED" else "no result")
    return f"trial {t.number} {t.state.name.lower()}: {value}  [{shown}]"


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def study_results(study: Any, base: dict, url: str) -> dict:
    """Every trial (params, value, state, user attrs) and the best config, JSON-able."""
    trials = []
    for t in study.trials:
        trials.append({"number": t.number, "params": t.params, "value": t.value,
                       "state": t.state.name, **t.user_attrs})
    complete = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    best = max(complete, key=lambda t: t["value"]) if complete else None
    return {"mode": "optuna", "study": study.study_name, "storage": redact(url),
            "objective": "val_acc", "base_config": base, "params": list(study.user_attrs.get(
                "settings", {}).get("params", [])), "trials": trials,
            "best": None if best is None else {"number": best["number"],
                                               "params": best["params"], "value": best["value"],
                                               "config": {**base, **best["params"]}}}


def plot_results(results: dict, out_dir: str | os.PathLike) -> list[Path]:
    """accuracy_vs_<param>.png for a sweep; history.png and accuracy_vs_lr.png for a search."""
    from .plots import new_figure, save_figure

    out = Path(out_dir)
    rows = [t for t in results["trials"] if t.get("value") is not None]
    written = []
    params = [results["param"]] if results["mode"] == "sweep" else \
        [p for p in ("lr",) if p in results.get("params", [])]
    for param in params:
        fig = new_figure(6.5, 4.2)
        ax = fig.subplots()
        xs = [t["params"][param] for t in rows]
        numeric = all(isinstance(x, (int, float)) for x in xs)
        order = np.argsort(xs) if numeric and results["mode"] == "sweep" else range(len(xs))
        style = "o-" if results["mode"] == "sweep" else "o"
        for key, label in (("value", "validation"), ("test_accuracy", "test")):
            ys = [rows[i].get(key) for i in order]
            ax.plot([xs[i] for i in order], [np.nan if y is None else y for y in ys], style,
                    label=label, alpha=0.8)
        if numeric and xs and min(xs) > 0 and max(xs) / min(xs) >= 10:
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
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, out / "history.png"))
    return written


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
