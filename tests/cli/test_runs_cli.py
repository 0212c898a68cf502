"""``barenet runs``: every run directory under a folder, one row each, damaged ones included."""
import json

import pytest

from barenet.cli.main import main
from barenet.train import Callback, TrainingInterrupted, train_model
from barenet.train.claim import claim_dir

TINY = {"limit_train": 300, "limit_test": 100, "epochs": 2, "batch_size": 50, "hidden": 8}


class StopAt(Callback):
    def on_batch_end(self, epoch, batch, loss):
        if (epoch, batch) == (2, 1):
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    train_model(TINY, root / "a-finished", plots=False)
    with pytest.raises(TrainingInterrupted):
        train_model({**TINY, "epochs": 3}, root / "b-interrupted", plots=False,
                    callbacks=[StopAt()])
    (root / "c-broken").mkdir()
    (root / "c-broken" / "config.json").write_text("{not json")
    (root / "d-not-a-run").mkdir()
    (root / "d-not-a-run" / "notes.txt").write_text("mine")
    (root / "e-file.txt").write_text("not a directory")
    (root / "f-fifo").mkdir()
    import os

    os.mkfifo(root / "f-fifo" / "config.json")    # a read would block forever
    return root


def test_one_row_per_run_with_its_facts(root, capsys):
    assert main(["runs", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    header, rows = out[0], out[1:]
    assert header.split()[:6] == ["name", "model", "dataset", "epochs", "test", "acc"]
    by_name = {r.split()[0]: r for r in rows if r.strip() and not r.startswith("(")}
    assert set(by_name) == {"a-finished", "b-interrupted", "c-broken", "f-fifo"}
    assert "mlp" in by_name["a-finished"] and "mnist" in by_name["a-finished"]
    assert " 2/2 " in by_name["a-finished"] and "%" in by_name["a-finished"]
    assert " 1/3 " in by_name["b-interrupted"] and "interrupted" in by_name["b-interrupted"]
    assert "unreadable" in by_name["c-broken"] and "invalid JSON" in by_name["c-broken"]
    assert "unreadable" in by_name["f-fifo"]
    assert any("1 folder without a run" in r for r in rows)


def test_json_lists_the_same_runs(root, capsys):
    assert main(["runs", str(root), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in runs}
    a = by_name["a-finished"]
    assert a["status"] == "finished" and a["model"] == "mlp" and a["dataset"] == "mnist"
    assert a["epochs_completed"] == 2 and a["epochs"] == 2 and 0 < a["test_accuracy"] <= 1
    assert a["created"] and a["path"] == str(root / "a-finished")
    assert by_name["b-interrupted"]["status"] == "interrupted"
    assert by_name["c-broken"]["status"] == "unreadable" and by_name["c-broken"]["error"]
    assert "d-not-a-run" not in by_name


def test_a_run_being_trained_shows_as_such(root, capsys):
    with claim_dir(root / "b-interrupted"):
        assert main(["runs", str(root), "--json"]) == 0
    runs = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert runs["b-interrupted"]["status"] == "training"


def test_default_folder_is_runs_and_a_missing_one_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["barenet: error: runs: no such folder (train a model first: barenet train)"]
    (tmp_path / "runs").mkdir()
    assert main(["runs"]) == 0
    assert "no runs in runs" in capsys.readouterr().out
