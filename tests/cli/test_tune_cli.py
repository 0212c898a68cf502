"""``barenet tune`` for real: a sweep, and an Optuna study shared by two processes that
survives Ctrl-C and continues when the command is run again."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from barenet.cli.main import main

FAST = ["--limit-train", "300", "--epochs", "1", "--batch-size", "32"]


def assert_png(path: Path) -> None:
    from PIL import Image

    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) >= 200
        assert np.asarray(im.convert("L"), dtype=np.float64).std() > 5


def test_sweep_in_two_processes_then_train_with_best(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep"
    assert main(["tune", *FAST, "--values", "0.003", "0.1", "--jobs", "2",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "lr=0.1: val acc" in text and "train with it: barenet train --config" in text
    res = json.loads((out / "results.json").read_text())
    assert res["mode"] == "sweep" and res["param"] == "lr"
    assert [t["params"]["lr"] for t in res["trials"]] == [0.003, 0.1]
    assert all(t["state"] == "COMPLETE" and 0 <= t["value"] <= 1 for t in res["trials"])
    assert res["best"]["value"] == max(t["value"] for t in res["trials"])
    assert_png(out / "accuracy_vs_lr.png")
    best = json.loads((out / "best.json").read_text())
    assert best["lr"] == res["best"]["params"]["lr"]
    assert "epochs" not in best and best["searched_with"] == {"epochs": 1, "limit_train": 300}
    assert "--epochs" in best["note"]
    run = tmp_path / "run"
    assert main(["train", "--config", str(out / "best.json"), "--limit-train", "300",
                 "--batch-size", "100", "--no-plots", "--quiet", "--out", str(run)]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["hyperparameters"]["lr"] == best["lr"]
    assert cfg["hyperparameters"]["epochs"] == 15   # the model's default, not the search's 1


def _study_trials(out: Path) -> list:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=f"barenet-{out.name}",
                              storage=f"sqlite:///{out / 'study.db'}")
    return study.get_trials(deepcopy=False)


def _complete_pids(out: Path) -> set[int]:
    """Worker pids of finished trials, read-only (never creates the database's tables)."""
    db = out / "study.db"
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute(
                "SELECT a.value_json FROM trials t JOIN trial_user_attributes a "
                "ON a.trial_id = t.trial_id WHERE t.state = 'COMPLETE' AND a.key = 'pid'")
            return {int(json.loads(v)) for (v,) in rows}
    except sqlite3.Error:  # tables not created yet, or busy
        return set()


def test_search_two_processes_share_a_study_that_survives_ctrl_c(tmp_path, capsys):
    pytest.importorskip("optuna")
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "barenet", "tune", "--trials", "40", "--jobs", "2",
           "--param", "lr", "optimizer", *FAST, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(_complete_pids(out)) >= 2:
                break
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "run the same command again" in stderr
    assert "A new study created" not in stderr  # optuna's own INFO lines are turned down
    before = [t for t in _study_trials(out) if t.state.name == "COMPLETE"]
    pids = {t.user_attrs["pid"] for t in before}
    assert len(pids) == 2 and os.getpid() not in pids   # two worker processes, one study
    target = len(before) + 1
    argv = ["tune", "--trials", str(target), "--param", "lr", "optimizer", *FAST,
            "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert f"{len(before)} finished trials, running 1 more" in text
    res = json.loads((out / "results.json").read_text())
    complete = [t for t in res["trials"] if t["state"] == "COMPLETE"]
    assert len(complete) == target                      # the study grew by one trial
    assert {t.number for t in before} < {t["number"] for t in complete}
    assert res["best"]["value"] == max(t["value"] for t in complete)
    best = json.loads((out / "best.json").read_text())
    assert best["optimizer"] in ("sgd", "adam") and best["lr"] == res["best"]["params"]["lr"]
    for name in ("history.png", "accuracy_vs_lr.png"):
        assert_png(out / name)


def test_missing_optuna_is_one_line_with_the_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(["tune", "--trials", "2", *FAST, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['barenet: error: Optuna is not installed: pip install "barenet[tune]"']


@pytest.mark.parametrize("argv,match", [
    (["--param", "lr", "hidden"], "a sweep varies one parameter"),
    (["--trials", "2", "--values", "0.1"], "--values is for a sweep"),
    (["--storage", "sqlite:///x.db"], "need --trials"),
    (["--val-split", "0"], "--val-split must be between 0 and 1"),
    (["--param", "lr", "--values", "fast"], "takes float values")])
def test_bad_options_are_one_line_errors(tmp_path, capsys, argv, match):
    assert main(["tune", *argv, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0]


def _fake_trial(config: dict, callbacks=()) -> dict:
    acc = 0.5 + config.get("lr", 0.05)
    return {"value": acc, "val_acc": acc, "test_accuracy": acc, "train_loss": 0.1,
            "seconds": 0.01, "history": []}


def test_a_second_tune_into_the_same_directory_is_refused_unless_overwrite(tmp_path, capsys,
                                                                            monkeypatch):
    from barenet.tune import trial

    monkeypatch.setattr(trial, "train_trial", _fake_trial)
    out = tmp_path / "t"
    assert main(["tune", "--values", "0.1", "0.2", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["tune", "--values", "0.3", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{out}: " in err[0] and "--overwrite" in err[0]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["tune", "--values", "0.3", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "results.json").read_text())["best"]["params"] == {"lr": 0.3}


def test_tune_into_a_folder_of_other_files_is_refused(tmp_path, capsys, monkeypatch):
    from barenet.tune import trial

    monkeypatch.setattr(trial, "train_trial", _fake_trial)
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["tune", "--values", "0.1", "--out", str(tmp_path)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["tune", "--values", "0.1", "--out", str(tmp_path), "--overwrite"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_search_continues_its_own_study_without_overwrite(tmp_path, capsys, monkeypatch):
    pytest.importorskip("optuna")
    from barenet.tune import trial

    monkeypatch.setattr(trial, "train_trial", _fake_trial)
    out = tmp_path / "s"
    argv = ["tune", "--param", "lr", "--out", str(out), "--trials"]
    assert main([*argv, "2"]) == 0
    assert main([*argv, "3"]) == 0          # the same study, extended
    assert len(json.loads((out / "results.json").read_text())["trials"]) == 3
    capsys.readouterr()
    assert main(["tune", "--values", "0.1", "--out", str(out)]) == 1   # a sweep is not
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "1", "--overwrite"]) == 0      # a new study from scratch
    assert len(json.loads((out / "results.json").read_text())["trials"]) == 1
