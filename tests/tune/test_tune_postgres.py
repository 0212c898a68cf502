"""``barenet tune`` on a real PostgreSQL server (tests/tune/conftest.py starts a throwaway one):
separate processes started together join one study, record each trial once, agree on the
best, survive Ctrl-C in one of them; and what a user gets for a bad URL, password or driver."""
from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from barenet.cli.main import main

FAST = ["--param", "lr", "optimizer", "--model", "mlp", "--hidden", "8",
        "--limit-train", "500", "--epochs", "1"]


def _tune(url: str, out: Path, trials: int) -> subprocess.Popen:
    """``barenet tune --trials N --jobs 2 --storage URL --study shared`` in its own process
    group (so that a Ctrl-C reaches it and its workers, and nothing else)."""
    cmd = [sys.executable, "-m", "barenet", "tune", "--trials", str(trials), "--jobs", "2",
           "--storage", url, "--study", "shared", *FAST, "--out", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, out, err


def _study(url: str):
    import optuna

    from barenet.tune import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="shared", storage=open_storage(url))


def _printed_best(stdout: str) -> float:
    found = re.findall(r"^best: .*\(validation accuracy ([0-9.]+)\)$", stdout, re.M)
    assert len(found) == 1, stdout
    return float(found[0])


def test_two_processes_started_together_record_every_trial_once(postgres_server, postgres_db,
                                                                 tmp_path):
    n = 4
    url = postgres_server.url(postgres_db)   # postgresql://, as users write it
    procs = [_tune(url, tmp_path / f"p{i}", n) for i in range(2)]   # a fresh database
    ran = [_finish(p, timeout=240) for p in procs]
    for rc, out, err in ran:
        assert rc == 0 and "Traceback" not in err, (out, err)   # no creation race
        assert "study 'shared' in postgresql+psycopg://postgres:***@127.0.0.1" in out
        assert postgres_server.password not in out + err

    study = _study(url)
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(len(trials)))
    assert all(t.state.name == "COMPLETE" for t in trials)
    # each process stops once the study has n finished trials; at most the other three
    # workers' trials in flight finish after that
    assert n <= len(trials) <= n + 3
    assert study.user_attrs["joined"] == 2
    assert {t.user_attrs["joined"] for t in trials} == {0, 1}   # both processes ran trials
    assert len({(t.params["lr"], t.params["optimizer"]) for t in trials}) == len(trials)
    by_number = {t.number: t for t in trials}

    bests = []
    for i, (_, out, _) in enumerate(ran):
        text = (tmp_path / f"p{i}" / "results.json").read_text()
        assert postgres_server.password not in text
        res = json.loads(text)
        assert res["storage"] == url.replace(postgres_server.password, "***").replace(
            "postgresql://", "postgresql+psycopg://")
        # what the process saw is what the study holds (but the other process's last trials
        # may still have been running when it wrote its results)
        seen = [t for t in res["trials"] if t["state"] != "RUNNING"]
        assert len(seen) >= n
        for t in seen:
            held = by_number[t["number"]]
            assert (held.state.name, held.params, held.value) == (t["state"], t["params"],
                                                                   t["value"])
        best_seen = max(t["value"] for t in seen if t["state"] == "COMPLETE")
        assert res["best"]["value"] == best_seen == pytest.approx(_printed_best(out), abs=5e-5)
        assert res["best"]["value"] <= study.best_value
        best_json = json.loads((tmp_path / f"p{i}" / "best.json").read_text())
        assert best_json["lr"] == res["best"]["params"]["lr"]
        if len(seen) == len(trials):
            bests.append(res["best"])
    # the process that finished last saw every trial finished: its best is the study's best
    assert bests and all(b["value"] == study.best_value for b in bests)
    assert all(by_number[b["number"]].params == b["params"] for b in bests)


def _running_trials(postgres_server, dbname: str) -> dict[int, int]:
    """{trial number: pid} of the study's RUNNING trials, read-only (never creates tables)."""
    import psycopg

    try:
        with postgres_server.connect(dbname) as con:
            rows = con.execute(
                "SELECT t.number, a.value_json FROM trials t JOIN trial_user_attributes a "
                "ON a.trial_id = t.trial_id WHERE a.key = 'pid' AND t.state = 'RUNNING'")
            return {number: int(json.loads(pid)) for number, pid in rows}
    except psycopg.errors.UndefinedTable:   # not created yet
        return {}


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_ctrl_c_in_one_process_leaves_the_other_and_the_study_intact(postgres_server,
                                                                     postgres_db, tmp_path):
    n = 4
    url = postgres_server.url(postgres_db)
    a, b = _tune(url, tmp_path / "a", n), _tune(url, tmp_path / "b", n)
    try:
        interrupted = None
        deadline = time.monotonic() + 120
        while interrupted is None and time.monotonic() < deadline:
            assert a.poll() is None and b.poll() is None
            for number, pid in _running_trials(postgres_server, postgres_db).items():
                if _group_of(pid) == a.pid:   # a trial of a's worker, running now
                    os.killpg(a.pid, signal.SIGINT)   # Ctrl-C reaches a and its workers
                    interrupted, when = number, datetime.datetime.now()
                    break
            time.sleep(0.1)
        assert interrupted is not None, "no trial of the first process started in 120 s"
        rc_a, out_a, err_a = _finish(a, timeout=60)
        rc_b, out_b, err_b = _finish(b, timeout=240)
    finally:
        for p in (a, b):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    assert rc_a == 130, (out_a, err_a)
    assert "Traceback" not in err_a and "run the same command again" in err_a
    assert rc_b == 0 and "Traceback" not in err_b, (out_b, err_b)

    study = _study(url)
    trials = study.get_trials(deepcopy=False)
    assert [t.number for t in trials] == list(range(len(trials)))
    assert not [t.number for t in trials if t.state.name in ("RUNNING", "WAITING")]
    states = {t.number: t.state.name for t in trials}
    assert states[interrupted] == "FAIL"        # the interrupted trial is marked failed
    joined_a = trials[interrupted].user_attrs["joined"]
    of_b = [t for t in trials if t.user_attrs["joined"] != joined_a]
    assert of_b and all(t.state.name == "COMPLETE" for t in of_b)   # b lost nothing
    # and kept going after the Ctrl-C, unless the study already had its n trials by then (b's
    # workers then stop taking new ones, a race the test cannot steer on a quiet machine)
    done_before = sum(t.state.name == "COMPLETE" and t.datetime_complete <= when for t in trials)
    assert done_before >= n or any(t.datetime_complete > when for t in of_b)
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) >= n
    res = json.loads((tmp_path / "b" / "results.json").read_text())
    assert res["best"]["value"] == study.best_value == pytest.approx(_printed_best(out_b),
                                                                     abs=5e-5)
    # b's results list every finished trial; the interrupted process's last trial may be
    # written as failed (by its own worker) after b's snapshot, so it may be missing there
    listed = {r["number"] for r in res["trials"]}
    assert {t.number for t in finished} <= listed <= {t.number for t in trials}


def test_wrong_password_is_one_line_without_the_password(postgres_server, postgres_db,
                                                         tmp_path, capsys):
    wrong = "Wr0ng-" + postgres_server.password[::-1]
    url = postgres_server.url(postgres_db, password=wrong)
    assert main(["tune", "--trials", "1", "--storage", url, *FAST,
                 "--out", str(tmp_path / "t")]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "password authentication failed" in err[0], err
    assert f"postgresql+psycopg://postgres:***@127.0.0.1:{postgres_server.port}/" in err[0]
    assert wrong not in captured.out + captured.err
    assert not (tmp_path / "t" / "results.json").exists()


def test_unreachable_server_is_one_line_without_the_password(tmp_path, capsys, free_port):
    pytest.importorskip("optuna")
    pytest.importorskip("psycopg")
    port = free_port   # nothing listens there
    url = f"postgres://bob:Sup3r-s3cret@127.0.0.1:{port}/db"
    assert main(["tune", "--trials", "1", "--storage", url, *FAST,
                 "--out", str(tmp_path / "t")]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"barenet: error: tune: cannot open storage "
                             f"postgresql+psycopg://bob:***@127.0.0.1:{port}/db: ")
    assert "refused" in err[0].lower()
    assert "Sup3r-s3cret" not in captured.out + captured.err
    assert not (tmp_path / "t").exists()  # the command made no empty DIR behind it
    existing = tmp_path / "mine"
    existing.mkdir()
    assert main(["tune", "--trials", "1", "--storage", url, *FAST, "--out", str(existing)]) == 1
    assert existing.is_dir()  # a directory that was there before stays


def test_missing_driver_gives_the_install_hint(tmp_path, capsys, monkeypatch):
    pytest.importorskip("optuna")
    monkeypatch.setitem(sys.modules, "psycopg", None)
    assert main(["tune", "--trials", "1", "--storage", "postgresql://bob:Sup3r-s3cret@db/x",
                 *FAST, "--out", str(tmp_path / "t")]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "barenet: error: tune: storage postgresql+psycopg://bob:***@db/x needs the database "
        'driver psycopg: pip install "barenet[tune]"']
