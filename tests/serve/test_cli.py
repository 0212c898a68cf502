"""``barenet serve`` as a command: prints its URL, serves, stops cleanly on Ctrl-C or SIGTERM,
and reports bad arguments in one line."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from barenet.cli.main import main


def start(run_dir, *extra: str) -> tuple[subprocess.Popen, str]:
    """Start ``barenet serve RUN --port 0``; return the process and the URL it printed."""
    proc = subprocess.Popen([sys.executable, "-m", "barenet", "serve", str(run_dir), "--port", "0",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r} {proc.stderr.read()!r}")
    assert match.group(1) != "0"
    return proc, match.group(0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_its_url_and_stops_cleanly(run_dir, sig) -> None:
    proc, url = start(run_dir)
    try:
        with urllib.request.urlopen(url + "api/model", timeout=20) as res:
            assert json.loads(res.read())["dataset"] == "mnist"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "barenet serve: stopped"
    with pytest.raises(OSError):
        socket.create_connection(tuple(url[7:-1].split(":")), timeout=2).close()


def test_verbose_logs_requests(run_dir) -> None:
    proc, url = start(run_dir, "--verbose")
    try:
        urllib.request.urlopen(url + "api/model", timeout=20).close()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert '"GET /api/model HTTP/1.1" 200' in err


def test_bad_arguments_are_one_line_errors(run_dir, tmp_path, capsys) -> None:
    assert main(["serve", str(tmp_path / "missing")]) == 1
    assert "no such run directory" in capsys.readouterr().err
    assert main(["serve", str(run_dir), "--port", "70000"]) == 1
    assert "--port" in capsys.readouterr().err
    assert main(["serve", str(run_dir), "--timeout", "0"]) == 1
    assert "--timeout" in capsys.readouterr().err
    for flag, value in (("--max-sessions", "0"), ("--session-memory", "0"),
                        ("--session-idle", "0"), ("--session-idle", "nan")):
        assert main(["serve", str(run_dir), flag, value]) == 1
        err = capsys.readouterr().err
        assert flag in err and err.count("\n") == 1
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(run_dir), "--port", str(port)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("barenet: error: cannot listen on 127.0.0.1:") and err.count("\n") == 1


def test_help_has_examples(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "--port" in out and "examples:" in out and "/api/predict" in out
    assert "/api/explain" in out and "/api/learn" in out and "--max-sessions" in out


def _hammer(url: str, stop: threading.Event) -> int:
    """Open short connections to the server as fast as possible until ``stop``; count answers."""
    host, port = url[7:-1].split(":")
    answered = 0
    while not stop.is_set():
        try:
            with socket.create_connection((host, int(port)), timeout=2) as s:
                s.sendall(b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Connection: close\r\n\r\n")
                answered += bool(s.recv(64))
        except OSError:
            time.sleep(0.01)
    return answered


def test_every_single_signal_stops_the_server_under_load(run_dir) -> None:
    """8 rounds: start, fire concurrent requests, send one Ctrl-C (SIGINT) or SIGTERM, the
    server is gone within 3 s, quietly."""
    for round_ in range(8):
        sig = (signal.SIGINT, signal.SIGTERM)[round_ % 2]
        proc, url = start(run_dir)
        stop = threading.Event()
        with ThreadPoolExecutor(6) as pool:
            try:
                load = [pool.submit(_hammer, url, stop) for _ in range(6)]
                time.sleep(0.3)
                proc.send_signal(sig)
                try:
                    _, err = proc.communicate(timeout=3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    _, err = proc.communicate(timeout=10)
                    raise AssertionError(f"round {round_}: still running 3 s after one {sig!r}; "
                                         f"stderr: {err[-2000:]}") from None
            finally:
                stop.set()
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=10)
            assert sum(f.result() for f in load) > 0
        assert proc.returncode == 0, err
        assert "Traceback" not in err and err.strip().splitlines()[-1] == "barenet serve: stopped"


def test_allow_host(run_dir) -> None:
    proc, url = start(run_dir, "--allow-host", "digits.lan", "--allow-host", "box.example")
    try:
        for name, status in (("digits.lan", 200), ("box.example:8000", 200), ("evil.example", 403)):
            req = urllib.request.Request(url + "api/model", headers={"Host": name})
            try:
                with urllib.request.urlopen(req, timeout=20) as res:
                    got = res.status
            except urllib.error.HTTPError as exc:
                got = exc.code
            assert got == status, name
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)


@pytest.mark.parametrize("command,applied", [("train", True), ("tune", True), ("compare", True),
                                             ("serve", False), ("predict", False),
                                             ("evaluate", False)])
def test_malloc_thresholds_only_for_commands_that_train(monkeypatch, command, applied) -> None:
    """``keep_freed_memory`` trades memory for training speed; a server must not hold on to
    every request's peak."""
    import importlib

    calls = []
    monkeypatch.setattr("barenet.cli.main.keep_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(importlib.import_module(f"barenet.cli.{command}"), "run", lambda args: 0)
    argv = {"train": [], "tune": ["--out", "x"], "compare": ["--out", "x"], "serve": ["r"],
            "predict": ["r", "a.png"], "evaluate": ["r"]}[command]
    assert main([command, *argv]) == 0
    assert bool(calls) == applied
