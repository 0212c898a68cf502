"""Tuning logic: grids, parameter checks, sweeps and searches with a stand-in for training."""
from __future__ import annotations

import json
import math
import sys

import pytest

from barenet import tune
from barenet.errors import ConfigError, TrainingDiverged
from barenet.tune import storage as tune_storage
from barenet.tune import study, trial


def _fake_train(config: dict, callbacks=()) -> dict:
    """Accuracy peaks at lr = 0.1; lr >= 1 diverges."""
    lr = config.get("lr", 0.05)
    if lr >= 1:
        raise TrainingDiverged("loss became nan at epoch 1, batch 3")
    acc = 0.9 - 0.1 * abs(math.log10(lr) + 1)
    return {"value": acc, "val_acc": acc, "test_accuracy": acc - 0.01, "train_loss": 1 - acc,
            "seconds": 0.01, "history": []}


def test_default_lr_grid_is_log_spaced():
    grid = tune.SWEEP_GRIDS["lr"]
    assert len(grid) >= 7 and grid[0] == pytest.approx(1e-4) and grid[-1] == pytest.approx(1)
    assert all(2.99 <= b / a <= 3.34 for a, b in zip(grid, grid[1:]))


@pytest.mark.parametrize("params,search,match", [
    (["lr", "batch_size"], False, "a sweep varies one parameter"),
    (["speed"], True, "unknown parameter 'speed'"),
    (["dropout"], False, "unknown parameter")])
def test_bad_params(params, search, match):
    with pytest.raises(ConfigError, match=match):
        tune.check_params(params, search)


def test_redact_hides_only_the_password():
    assert study.redact("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert study.redact("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    # a password repeated elsewhere in the URL (e.g. in its query) is hidden there too
    assert study.redact("postgresql://bob:s3cret@db/x?options=s3cret") == \
        "postgresql://bob:***@db/x?options=***"
    # a long password is hidden even inside other text
    assert study.redact("postgresql://bob:s3cret@db/x?options=-cs3cret") == \
        "postgresql://bob:***@db/x?options=-c***"


def test_a_short_password_is_hidden_without_mangling_the_rest():
    url = "postgresql+psycopg://u:p@127.0.0.1:1/x"
    assert study.redact(url) == "postgresql+psycopg://u:***@127.0.0.1:1/x"
    assert study.redact("postgresql://u:p%40ss@db/x") == "postgresql://u:***@db/x"  # encoded
    error = tune_storage._error(url, OSError('connection to server at "127.0.0.1", port 1 '
                                            'failed: Connection refused (password p)'))
    assert str(error) == ("tune: cannot open storage postgresql+psycopg://u:***@127.0.0.1:1/x: "
                          'connection to server at "127.0.0.1", port 1 failed: Connection '
                          "refused (password ***)")


@pytest.mark.parametrize("url,expected", [
    ("postgresql://bob:pw@db/x", "postgresql+psycopg://bob:pw@db/x"),
    ("postgres://bob:pw@db:5433/x", "postgresql+psycopg://bob:pw@db:5433/x"),
    ("PostgreSQL://db/x", "postgresql+psycopg://db/x"),
    ("postgresql+psycopg://bob@db/x", "postgresql+psycopg://bob@db/x"),
    ("postgresql+psycopg2://bob@db/x", "postgresql+psycopg2://bob@db/x"),   # its own driver
    ("sqlite:////tmp/postgresql://x.db", "sqlite:////tmp/postgresql://x.db"),
    ("mysql://bob@db/x", "mysql://bob@db/x")])
def test_storage_url_names_the_postgresql_driver_the_extra_installs(url, expected):
    assert tune.storage_url(url) == expected


def test_sampler_seeds_differ_between_workers_and_processes_and_repeat():
    seeds = [s for joined in range(3) for s in study.sampler_seeds(7, joined, 4)]
    assert len(set(seeds)) == 12 and all(0 <= s < 2**32 for s in seeds)
    assert study.sampler_seeds(7, 1, 4) == seeds[4:8]
    assert study.sampler_seeds(-1, 0, 1) != study.sampler_seeds(0, 0, 1)


def test_sweep_picks_the_best_and_records_divergence(monkeypatch, tmp_path):
    monkeypatch.setattr(trial, "train_trial", _fake_train)
    lines: list[str] = []
    res = tune.sweep({"epochs": 1}, "lr", progress=lines.append)
    assert [t["params"]["lr"] for t in res["trials"]] == tune.SWEEP_GRIDS["lr"]
    assert res["best"]["params"] == {"lr": 0.1}
    assert res["best"]["config"] == {"epochs": 1, "lr": 0.1}
    assert res["trials"][-1]["state"] == "DIVERGED" and res["trials"][-1]["value"] is None
    assert len(lines) == len(tune.SWEEP_GRIDS["lr"]) and "nan" in lines[-1]
    json.dumps(res)  # JSON-able
    pytest.importorskip("matplotlib")
    paths = tune.plot_results(res, tmp_path)
    assert [p.name for p in paths] == ["accuracy_vs_lr.png"] and paths[0].stat().st_size > 1000


def test_best_config_is_a_complete_train_config():
    from barenet.train.config import resolve_config

    res = {"best": {"params": {"lr": 0.2}, "config": {"epochs": 1, "lr": 0.2,
                                                      "limit_train": 300, "data_dir": "/x"}}}
    best = tune.best_config(res)
    assert best["lr"] == 0.2 and best["model"] == "mlp" and best["epochs"] == 1
    assert "limit_train" not in best and "data_dir" not in best
    assert tune.best_config({"best": None}) is None
    resolve_config(best)  # accepted as is


def test_search_in_process_continues_and_checks_settings(monkeypatch, tmp_path):
    pytest.importorskip("optuna")
    monkeypatch.setattr(trial, "train_trial", _fake_train)
    base = {"epochs": 1, "seed": 0}
    res = study.search(base, ["lr", "optimizer"], 3, tmp_path)
    assert len(res["trials"]) == 3 and res["mode"] == "optuna"
    assert res["storage"].startswith("sqlite:///") and res["study"] == f"barenet-{tmp_path.name}"
    assert all(set(t["params"]) == {"lr", "optimizer"} for t in res["trials"])
    best = max((t for t in res["trials"] if t["value"] is not None), key=lambda t: t["value"])
    assert res["best"]["number"] == best["number"]
    res = study.search(base, ["lr", "optimizer"], 5, tmp_path)   # continues: 3 -> 5
    assert [t["number"] for t in res["trials"]] == [0, 1, 2, 3, 4]
    assert len(study.search(base, ["lr", "optimizer"], 5, tmp_path)["trials"]) == 5  # done
    with pytest.raises(ConfigError, match="started with other settings"):
        study.search({**base, "epochs": 2}, ["lr", "optimizer"], 6, tmp_path)


def test_missing_optuna_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r'pip install "barenet\[tune\]"'):
        study.import_optuna()


def test_bad_storage_url_is_one_clear_error(tmp_path):
    pytest.importorskip("optuna")
    with pytest.raises(ConfigError, match="cannot open storage|needs a driver"):
        study.open_storage("nosuchdb://user:pw@host/x")
