"""What every tuning trial shares: the grids and search space, one trial's training, the
BLAS threads of worker processes, and the best trial as a ``barenet train`` config.

Every trial trains briefly with ``barenet.train.api.train_model`` and is scored by its
validation accuracy (never the test set, which is only reported).
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from ..errors import ConfigError

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
    from ..train.api import train_model

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
    from ..compare.twin import numpy_threads

    return max(1, numpy_threads() // max(1, jobs))


def best_config(results: dict) -> dict | None:
    """The best trial's complete training config, keys as ``barenet train``'s flags, with the
    search's own short budget of epochs (``recommended_config`` is what best.json holds), or
    None when no trial finished."""
    from ..train.config import resolve_config

    best = results.get("best")
    if not best:
        return None
    cfg = resolve_config(dict(best["config"]))
    # the data subset and location are how the search was run, not what it found
    return {k: v for k, v in cfg.items()
            if k not in ("spec", "data_dir", "limit_train", "limit_test")}


#: How a search was run rather than what it found: kept out of the config it recommends.
SEARCH_BUDGET = ("epochs", "limit_train", "limit_test")


def recommended_config(results: dict) -> dict | None:
    """What best.json holds: the best trial's config for ``barenet train --config`` without
    the search's budget (its few epochs, its data subset), which ``searched_with`` records and
    ``note`` explains; None when no trial finished."""
    from ..train.config import defaults_for

    best = best_config(results)
    if best is None:
        return None
    base = results.get("base_config") or {}
    searched = {k: base[k] for k in SEARCH_BUDGET if base.get(k) is not None}
    best.pop("epochs", None)
    default = defaults_for(best)["epochs"]
    trained = searched.get("epochs", "a few")
    best["searched_with"] = searched
    best["note"] = (f"each trial trained for {trained} epoch(s); epochs is left out, so barenet "
                    f"train uses the model's default ({default}) unless --epochs is given")
    return best

