"""Claiming a directory: one writer at a time, across processes; stale claims are taken over."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from barenet.errors import ConfigError
from barenet.train.claim import LOCK, DirInUse, claim_dir, claim_holder

HOLD = ("import sys, time\n"
        "from barenet.train.claim import claim_dir\n"
        "claim = claim_dir(sys.argv[1])\n"
        "print('claimed', flush=True)\n"
        "time.sleep(60)\n")


def hold_in_another_process(path):
    """A child process that claims ``path`` and sleeps; returns it once it holds the claim."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "claimed":
        proc.kill()
        pytest.fail(f"the child did not claim {path}: {proc.communicate(timeout=10)}")
    return proc


def test_a_claim_creates_the_directory_and_releasing_removes_only_the_lock(tmp_path):
    d = tmp_path / "a" / "run"
    with claim_dir(d) as claim:
        assert d.is_dir() and (d / LOCK).is_file()
        info = json.loads((d / LOCK).read_text())
        assert info["pid"] == os.getpid() and info["host"]
        assert claim.created
        (d / "config.json").write_text("{}")
    assert not (d / LOCK).exists() and (d / "config.json").exists()


def test_an_unused_new_directory_is_removed_again(tmp_path):
    d = tmp_path / "run"
    with pytest.raises(RuntimeError):
        with claim_dir(d):
            raise RuntimeError("setup failed")
    assert not d.exists()
    d.mkdir()
    with claim_dir(d):
        pass
    assert d.is_dir() and not any(d.iterdir())   # it existed before: it stays


def test_a_second_claim_in_the_same_process_is_refused(tmp_path):
    with claim_dir(tmp_path / "r"):
        with pytest.raises(DirInUse, match=rf"r: in use by process {os.getpid()} on "):
            claim_dir(tmp_path / "r")


def test_another_process_holds_the_claim_until_it_dies_then_it_is_taken_over(tmp_path):
    d = tmp_path / "r"
    proc = hold_in_another_process(d)
    try:
        with pytest.raises(DirInUse) as info:
            claim_dir(d)
        msg = str(info.value)
        assert isinstance(info.value, ConfigError) and "\n" not in msg
        assert f"in use by process {proc.pid}" in msg
        assert claim_holder(d)["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)   # a crash: the lock file stays behind
        proc.wait(timeout=10)
    assert (d / LOCK).exists()
    assert claim_holder(d) is None        # nobody holds it any more
    with claim_dir(d):                    # the stale claim is taken over
        assert json.loads((d / LOCK).read_text())["pid"] == os.getpid()


def test_a_lock_file_left_by_a_dead_process_without_flock_is_stale(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / LOCK).write_text(json.dumps({"pid": 999_999_999, "host": "elsewhere"}))
    with claim_dir(d):
        assert json.loads((d / LOCK).read_text())["pid"] == os.getpid()


def test_a_file_in_the_way_is_one_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="f: exists and is not a directory"):
        claim_dir(tmp_path / "f")


def test_many_processes_racing_for_one_directory_leave_exactly_one_winner(tmp_path):
    d = tmp_path / "r"
    race = ("import sys, time\n"
            "from barenet.train.claim import claim_dir, DirInUse\n"
            "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
            "try:\n"
            "    c = claim_dir(sys.argv[1])\n"
            "except DirInUse:\n"
            "    print('refused', flush=True); sys.exit(0)\n"
            "print('won', flush=True)\n"
            "sys.stdin.read()\n"          # hold the claim until the test has every answer
            "c.release()\n")
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", race, str(d), str(start)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    try:
        outs = [p.stdout.readline().strip() for p in procs]
        errors = []
        for p in procs:
            p.stdin.close()
            p.wait(timeout=30)
            errors.append(p.stderr.read().strip())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert sorted(outs) == ["refused", "refused", "refused", "won"], (outs, errors)
    assert not (d / LOCK).exists(), sorted(os.listdir(d))


def test_a_file_system_without_hard_links_still_gets_exclusive_claims(tmp_path, monkeypatch):
    def no_links(src, dst, *args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with claim_dir(tmp_path / "r"):
        assert json.loads((tmp_path / "r" / LOCK).read_text())["pid"] == os.getpid()
        with pytest.raises(DirInUse):
            claim_dir(tmp_path / "r")
    assert not (tmp_path / "r").exists()
    assert not list(tmp_path.iterdir())   # no temporary files left behind


def test_a_directory_created_by_another_process_meanwhile_is_claimed(tmp_path, monkeypatch):
    """The race a full test run once hit: the directory is absent when first looked at, and
    another process creates it before this one does; that is no reason to refuse."""
    from pathlib import Path

    d = tmp_path / "r"
    real_is_dir = Path.is_dir
    calls = []

    def racing_is_dir(self):
        if self == d and not calls:
            calls.append(1)
            d.mkdir()          # the other process wins the mkdir right after our look
            return False
        return real_is_dir(self)

    monkeypatch.setattr(Path, "is_dir", racing_is_dir)
    claim = claim_dir(d)
    try:
        assert claim.held and not claim.created and (d / LOCK).exists()
    finally:
        claim.release()
