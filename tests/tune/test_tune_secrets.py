"""No database password is shown or saved: every form libpq accepts (the URL's userinfo, the
``password`` and ``sslpassword`` query parameters, in any case or percent-encoding) is masked in
``redact``, in error lines, in the progress line and in results.json; a URL that cannot be
parsed is shown only as its scheme."""
from __future__ import annotations

import pytest

from barenet.cli.main import main
from barenet.tune import redact, trial
from barenet.tune import storage as tune_storage

SECRET = "hunter2secret"


@pytest.mark.parametrize("url, shown", [
    ("postgresql://bob@127.0.0.1:1/db?password=hunter2secret",
     "postgresql://bob@127.0.0.1:1/db?password=***"),
    ("postgresql://127.0.0.1:1/db?user=bob&password=hunter2secret",
     "postgresql://127.0.0.1:1/db?user=bob&password=***"),
    ("postgresql://bob@db/x?sslpassword=hunter2secret&sslmode=require",
     "postgresql://bob@db/x?sslpassword=***&sslmode=require"),
    ("postgresql://bob@db/x?PassWord=hunter2secret", "postgresql://bob@db/x?PassWord=***"),
    ("postgresql://bob@db/x?pass%77ord=hunter%32secret", "postgresql://bob@db/x?pass%77ord=***"),
    ("postgresql://bob:pw1@db/x?password=hunter2secret",
     "postgresql://bob:***@db/x?password=***"),
    ("postgresql://bob@db/x?password=p&application_name=postgresql",
     "postgresql://bob@db/x?password=***&application_name=postgresql"),
    ("postgresql://bob:hunter2secret@[::1/db", "postgresql://..."),
    ("postgresql+psycopg://bob@[::1/db?password=hunter2secret", "postgresql+psycopg://..."),
    ("postgresql://bob:hunter2secret@db:notaport/x", "postgresql://bob:***@db:notaport/x"),
])
def test_redact_masks_every_password_form(url, shown):
    assert redact(url) == shown


def test_redact_leaves_a_url_without_a_password_alone():
    for url in ("sqlite:////tmp/a.db", "postgresql://bob@db:5432/x?sslmode=require",
                "postgresql://bob@db/x?passwordless=1"):
        assert redact(url) == url


def test_an_error_about_a_query_password_masks_it_in_the_detail_too():
    url = "postgresql+psycopg://bob@db/x?password=hunter%32secret"
    error = tune_storage._error(url, OSError("bad password hunter2secret or hunter%32secret"))
    assert SECRET not in str(error) and "hunter%32secret" not in str(error)


def test_a_password_holding_an_at_sign_is_hidden_in_every_piece():
    url = "postgresql+psycopg://bob:p@ss@127.0.0.1:1/db"
    error = tune_storage._error(url, OSError("failed to resolve host 'ss@127.0.0.1'"))
    assert "ss@" not in str(error) and "p@ss" not in str(error)


def test_an_unparsable_url_shows_no_part_of_itself_in_the_detail():
    url = "postgresql://bob:pw@[::1/db"
    error = tune_storage._error(url, ValueError(f"Could not parse URL from string '{url}'"))
    assert "bob:pw" not in str(error) and str(error).startswith(
        "tune: cannot open storage postgresql://...")


@pytest.mark.parametrize("url", [
    "postgresql://bob@127.0.0.1:1/db?password=hunter2secret",
    "postgresql://127.0.0.1:1/db?user=bob&password=hunter2secret",
    "postgresql://bob@127.0.0.1:1/db?sslpassword=hunter2secret",
    "postgresql://bob@127.0.0.1:1/db?PASS%57ORD=hunter2secret",
    "postgresql://bob:hunter2secret@[::1/db",
])
def test_cli_never_prints_the_password(url, tmp_path, capsys):
    pytest.importorskip("optuna")
    pytest.importorskip("psycopg")
    rc = main(["tune", "--trials", "1", "--storage", url, "--out", str(tmp_path / "T")])
    captured = capsys.readouterr()
    assert rc == 1 and SECRET not in captured.out + captured.err
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err
    assert not (tmp_path / "T").exists()


@pytest.mark.parametrize("query", ["password=hunter2secret", "sslpassword=hunter2secret",
                                   "Password=hunter%32secret"])
def test_progress_line_and_results_json_never_hold_the_password(query, tmp_path, capsys,
                                                                monkeypatch):
    pytest.importorskip("optuna")

    def fake(config: dict, callbacks=()) -> dict:
        return {"value": 0.5, "val_acc": 0.5, "test_accuracy": 0.5, "train_loss": 0.1,
                "seconds": 0.01, "history": []}

    monkeypatch.setattr(trial, "train_trial", fake)
    url = f"sqlite:///{tmp_path / 'shared.db'}?{query}"   # sqlite ignores the parameter
    out = tmp_path / "T"
    assert main(["tune", "--param", "lr", "--trials", "1", "--storage", url,
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "password=***" in captured.out.lower()
    text = (out / "results.json").read_text()
    for shown in (captured.out, captured.err, text):
        assert SECRET not in shown and "hunter%32secret" not in shown
    # the same command continues the same study (results.json matches the storage)
    assert main(["tune", "--param", "lr", "--trials", "2", "--storage", url,
                 "--out", str(out)]) == 0
