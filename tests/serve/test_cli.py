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
import urllib.request

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
