"""A grid sweep: one hyper-parameter over a list of values, one training run per value,
optionally in several processes (``barenet tune`` without ``--trials``)."""
from __future__ import annotations

import multiprocessing as mp
from typing import Any

from ..errors import TrainingDiverged
from . import trial
from .trial import SWEEP_GRIDS, Progress, blas_threads, worker_threads


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which terminates them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _sweep_one(config: dict) -> dict:
    try:
        return {"state": "COMPLETE", **trial.train_trial(config)}
    except TrainingDiverged as exc:
        return {"state": "DIVERGED", "value": None, "error": str(exc)}


def sweep(base: dict, param: str, values: list | None = None, jobs: int = 1,
          progress: Progress | None = None) -> dict:
    """Train ``base`` once per value of ``param`` (``values`` or its default grid), in ``jobs``
    processes. Returns {"mode": "sweep", "param", "objective": "val_acc", "base_config",
    "trials": [{number, params, state, value, val_acc, test_accuracy, seconds, history, ...}],
    "best": {params, value, config} or None}; a diverged trial has state "DIVERGED"."""
    from ..train.config import resolve_config
    from ..train.memory import check_memory

    say = progress or (lambda msg: None)
    values = list(values if values else SWEEP_GRIDS[param])
    configs = [{**base, param: v} for v in values]
    for cfg in configs:  # every bad setting (or batch too large) fails here, before training
        check_memory(resolve_config(cfg))
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
