"""``barenet tune`` never follows a symbolic link out of its output directory: a planted link
among the files it writes or opens there (study.db and its journals, results.json, best.json,
the figures) is refused in one line, and the file the link points to is left as it was."""
from __future__ import annotations

import json

import pytest
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.errors import ConfigError
from barenet.tune import study, trial

pytest.importorskip("optuna")


def _fake_trial(config: dict, callbacks=()) -> dict:
    acc = 0.5 + config.get("lr", 0.05)
    return {"value": acc, "val_acc": acc, "test_accuracy": acc, "train_loss": 0.1,
            "seconds": 0.01, "history": []}


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    monkeypatch.setattr(trial, "train_trial", _fake_trial)


SEARCH = ["tune", "--param", "lr", "--epochs", "1", "--trials"]


def test_a_planted_study_db_link_is_refused_and_its_target_untouched(tmp_path, capsys):
    out, elsewhere = tmp_path / "D", tmp_path / "elsewhere.db"
    out.mkdir()
    elsewhere.write_bytes(b"")
    (out / "study.db").symlink_to(elsewhere)
    rc = main([*SEARCH, "1", "--out", str(out)])
    line = one_error_line(capsys, rc)
    assert "study.db" in line and "link" in line
    assert elsewhere.read_bytes() == b""
    assert (out / "study.db").is_symlink() and sorted(p.name for p in out.iterdir()) == \
        ["study.db"]


def test_a_dangling_study_db_link_is_refused(tmp_path, capsys):
    out = tmp_path / "D"
    out.mkdir()
    (out / "study.db").symlink_to(tmp_path / "nowhere.db")
    rc = main([*SEARCH, "1", "--out", str(out)])
    assert "study.db" in one_error_line(capsys, rc)
    assert not (tmp_path / "nowhere.db").exists()


def test_search_itself_refuses_a_study_db_link(tmp_path):
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_bytes(b"")
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "study.db").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="link"):
        study.search({"epochs": 1}, ["lr"], 1, tmp_path / "D")
    assert elsewhere.read_bytes() == b""


@pytest.mark.parametrize("name", ["study.db-journal", "study.db-wal", "results.json",
                                  "best.json", "history.png", "accuracy_vs_lr.png"])
def test_a_link_planted_beside_a_study_being_continued_is_refused(tmp_path, capsys, name):
    out, elsewhere = tmp_path / "D", tmp_path / "elsewhere"
    assert main([*SEARCH, "1", "--out", str(out)]) == 0
    (out / name).unlink(missing_ok=True)
    elsewhere.write_bytes(b"mine")
    (out / name).symlink_to(elsewhere)
    capsys.readouterr()
    rc = main([*SEARCH, "2", "--out", str(out)])
    assert name in one_error_line(capsys, rc)
    assert elsewhere.read_bytes() == b"mine"
    assert (out / name).is_symlink()


def test_results_json_link_is_not_read_to_decide_a_continuation(tmp_path, capsys):
    """With --storage, results.json says which study DIR holds: a link is not followed."""
    out, elsewhere = tmp_path / "D", tmp_path / "outside.json"
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    assert main([*SEARCH, "1", "--storage", db, "--out", str(out)]) == 0
    elsewhere.write_bytes((out / "results.json").read_bytes())
    (out / "results.json").unlink()
    (out / "results.json").symlink_to(elsewhere)
    capsys.readouterr()
    rc = main([*SEARCH, "2", "--storage", db, "--out", str(out)])
    assert "results.json" in one_error_line(capsys, rc)
    assert json.loads(elsewhere.read_text())["mode"] == "optuna"


def test_overwrite_replaces_the_link_itself_never_its_target(tmp_path, capsys):
    out, elsewhere = tmp_path / "D", tmp_path / "elsewhere.db"
    out.mkdir()
    elsewhere.write_bytes(b"")
    (out / "study.db").symlink_to(elsewhere)
    (out / "results.json").symlink_to(tmp_path / "r.json")
    assert main([*SEARCH, "1", "--out", str(out), "--overwrite"]) == 0
    assert elsewhere.read_bytes() == b"" and not (tmp_path / "r.json").exists()
    assert not (out / "study.db").is_symlink() and (out / "study.db").stat().st_size > 0
    assert not (out / "results.json").is_symlink()
    assert main(["tune", "--values", "0.1", "--out", str(out), "--overwrite"]) == 0
