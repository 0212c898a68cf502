"""Hyper-parameter search with Optuna: a study in shared storage, trials in worker processes.

The study lives in an RDB storage (sqlite by default, or PostgreSQL; see ``storage``) under a
fixed name, so ``jobs`` worker processes -- or other machines given the same URL -- share it,
and running the same search again continues it until it has the requested number of finished
trials. Each trial trains with ``trial.train_trial`` and is scored by its validation accuracy;
it records the process and host that ran it.
"""
from __future__ import annotations

import _thread
import contextlib
import fnmatch
import multiprocessing as mp
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import BarenetError, ConfigError, TrainingDiverged
from ..train.trainer import Callback
from . import trial as _trial
from .storage import check_storage, import_optuna, join_study, open_storage, redact, storage_url
from .trial import SEARCH_SPACE, Progress, blas_threads, worker_threads

# Set by Ctrl-C in a process that runs trials (a worker, or the search itself with one job):
# the running trial stops at its next batch (a safe point, so the study's database is never
# interrupted mid-write) and no new trial starts.
_STOP = threading.Event()


class _StopAtBatch(Callback):
    """Raise KeyboardInterrupt at the end of a batch once Ctrl-C has been seen."""

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        if _STOP.is_set():
            raise KeyboardInterrupt


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


#: What a search with the default storage opens in its output directory: the sqlite database
#: and the journals sqlite keeps beside it.
STUDY_FILES = ("study.db", "study.db-journal", "study.db-wal", "study.db-shm")


def refuse_links(out_dir: str | os.PathLike, names: tuple[str, ...] = STUDY_FILES) -> None:
    """ConfigError in one line if an entry of directory ``out_dir`` named by ``names`` (names
    or fnmatch patterns) is a symbolic link: nothing is written or opened through a link that
    could lead out of an output directory."""
    try:
        with os.scandir(out_dir) as it:
            links = sorted(e.name for e in it if e.is_symlink()
                           and any(fnmatch.fnmatchcase(e.name, n) for n in names))
    except (FileNotFoundError, NotADirectoryError):
        return
    if links:
        raise ConfigError(f"{Path(out_dir) / links[0]}: is a symbolic link; tune does not "
                          "follow links out of its output directory (remove it, or use "
                          "another --out)")


def _objective(base: dict, params: list[str], joined: int) -> Callable[[Any], float]:
    def objective(trial: Any) -> float:
        import optuna

        # who runs it (the host, the process, and which `barenet tune` to join the study),
        # recorded first so that a failed or interrupted trial names it too
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("joined", joined)
        if _STOP.is_set():
            raise KeyboardInterrupt
        cfg = {**base, **suggest(trial, params)}
        try:
            out = _trial.train_trial(cfg, callbacks=[_StopAtBatch()])
        except TrainingDiverged as exc:
            trial.set_user_attr("error", str(exc))
            raise optuna.TrialPruned(f"diverged: {exc}") from None
        except BarenetError as exc:
            trial.set_user_attr("error", str(exc))
            raise
        for key in ("val_acc", "test_accuracy", "seconds", "train_loss"):
            trial.set_user_attr(key, out[key])
        if out["value"] is None:
            raise ConfigError("tune: training reported no validation accuracy; set val_split > 0")
        return out["value"]
    return objective


def _counted(study: Any) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _optimize(url: str, name: str, base: dict, params: list[str], n_trials: int,
              target: int, seed: int, joined: int, say: Progress | None = None) -> None:
    """Join the study and run up to ``n_trials`` trials, stopping once it has ``target``
    finished ones (trials already running elsewhere may still finish after that)."""
    optuna = import_optuna()
    # trials are reported by ``say`` or the parent process, failures in one line (Ctrl-C and
    # errors are re-raised by optuna after it logs them with a traceback)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=open_storage(url),
                              sampler=optuna.samplers.TPESampler(seed=seed))
    cap = optuna.study.MaxTrialsCallback(target, states=(optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED))
    callbacks = [cap, _stop_if_asked]
    if say is not None:
        callbacks.append(lambda st, t: say(_describe(t)))
    study.optimize(_objective(base, params, joined), n_trials=n_trials, callbacks=callbacks)
    if _STOP.is_set():   # Ctrl-C came between trials: none was started after it
        raise KeyboardInterrupt


def _stop_if_asked(study: Any, trial: Any) -> None:
    """An optimize callback: after Ctrl-C, start no new trial."""
    if _STOP.is_set():
        study.stop()


def _redeliver_interrupts(unraisable: Any) -> None:
    """sys.unraisablehook for the parent: a Ctrl-C that lands inside a finalizer (e.g. the
    database layer's weakref cleanup) would be printed as a traceback and then lost; deliver it
    again to the main thread instead, where it stops the search as intended."""
    if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
        _thread.interrupt_main()
    else:
        sys.__unraisablehook__(unraisable)


@contextlib.contextmanager
def _stop_at_batch_on_ctrl_c() -> Iterator[None]:
    """Trials in this process: the first Ctrl-C sets ``_STOP`` (the trial stops at its next
    batch and optuna marks it failed, never mid-write to the study), a second one interrupts at
    once. Only in the main thread, where signal handlers can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_ctrl_c(signum: int, frame: Any) -> None:
        if _STOP.is_set():
            raise KeyboardInterrupt
        _STOP.set()

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _STOP.clear()


def _search_worker(*args: Any) -> None:
    """Worker process: ``_optimize``; Ctrl-C ends it quietly (optuna marks the trial failed).

    Ctrl-C only sets ``_STOP`` here; the trial raises KeyboardInterrupt at its next batch."""
    signal.signal(signal.SIGINT, lambda signum, frame: _STOP.set())
    try:
        _optimize(*args)
    except KeyboardInterrupt:
        pass
    except BarenetError:  # recorded in the trial's "error" attribute for the parent
        raise SystemExit(2) from None


def search(base: dict, params: list[str], trials: int, out_dir: str | os.PathLike,
           jobs: int = 1, storage: str | None = None, study_name: str | None = None,
           progress: Progress | None = None) -> dict:
    """Run (or continue) an Optuna study until it has ``trials`` finished trials.

    The study lives in ``storage`` (default ``sqlite:///out_dir/study.db``) under
    ``study_name`` (default ``barenet-<out_dir name>``); ``jobs`` processes share it.
    """
    from ..train.config import resolve_config

    optuna = import_optuna()
    say = progress or (lambda msg: None)
    resolve_config(base)  # a bad model, dataset or value fails here, before any worker starts
    if storage:
        check_storage(storage)   # before anything is made
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not storage:
        refuse_links(out)
    # the directory is resolved, never the database file (a link there is refused above)
    url = storage_url(storage) if storage else f"sqlite:///{out.resolve() / 'study.db'}"
    name = study_name or f"barenet-{out.resolve().name}"
    settings = {"base_config": {k: v for k, v in base.items() if k != "data_dir"},
                "params": params}
    store, study, joined = join_study(url, name, settings)
    done = _counted(study)
    remaining = max(0, trials - done)
    procs = max(1, min(jobs, remaining))
    say(f"study {name!r} in {redact(url)}: {done} finished trials, running {remaining} more "
        f"in {procs} process{'es' if procs > 1 else ''}")
    if remaining:
        shares = [remaining // jobs + (i < remaining % jobs) for i in range(jobs)]
        seeds = sampler_seeds(int(base.get("seed") or 0), joined, jobs)
        if jobs == 1:
            with _stop_at_batch_on_ctrl_c():
                _optimize(url, name, base, params, remaining, trials, seeds[0], joined, say)
        else:
            _run_workers(url, name, base, params, [s for s in shares if s], trials, seeds,
                         joined, say, lambda: optuna.load_study(study_name=name, storage=store))
    return study_results(optuna.load_study(study_name=name, storage=store), base, url)


def sampler_seeds(seed: int, joined: int, jobs: int) -> list[int]:
    """One sampler seed per worker of the ``joined``-th process to join a study: reproducible
    for a given seed and order of runs, and different for every process and worker (workers
    sharing a seed would draw the same parameters for their first, random trials)."""
    seq = np.random.SeedSequence([seed % 2**32, joined])
    return [int(child.generate_state(1)[0]) for child in seq.spawn(jobs)]


def _run_workers(url: str, name: str, base: dict, params: list[str], shares: list[int],
                 target: int, seeds: list[int], joined: int, say: Progress,
                 reload: Callable[[], Any]) -> None:
    ctx = mp.get_context("spawn")
    saved_hook, sys.unraisablehook = sys.unraisablehook, _redeliver_interrupts
    procs = []
    with blas_threads(worker_threads(len(shares))):
        for i, n in enumerate(shares):
            p = ctx.Process(target=_search_worker, name=f"barenet-tune-{i}", daemon=True,
                            args=(url, name, base, params, n, target, seeds[i], joined))
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
        sys.unraisablehook = saved_hook
    _report_new(reload(), reported, say)
    failed = [p for p in procs if p.exitcode not in (0, None)]
    if failed:
        errors = [t.user_attrs["error"] for t in reload().get_trials(deepcopy=False)
                  if t.state.name == "FAIL" and "error" in t.user_attrs]
        why = errors[-1] if errors else f"exit code {failed[0].exitcode}"
        raise BarenetError(f"tune: {len(failed)} worker process(es) failed: {why}")


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
