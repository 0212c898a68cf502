"""``barenet board`` on the command line: the real command in a subprocess (prints its URL,
answers, stops on SIGTERM), and its one-line errors."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest
from board_helpers import copy_run

from barenet.cli.main import main


def test_the_command_serves_the_folder_and_stops_on_sigterm(trained, tmp_path) -> None:
    copy_run(trained, tmp_path / "runs" / "mlp")
    proc = subprocess.Popen([sys.executable, "-m", "barenet.cli.main", "board",
                             str(tmp_path / "runs"), "--port", "0", "--refresh", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "(1 run)" in line and "http://127.0.0.1:" in line, line
        url = line.split(" on ", 1)[1].split()[0]
        with urllib.request.urlopen(url + "api/runs", timeout=20) as res:
            doc = json.loads(res.read())
        assert [r["name"] for r in doc["runs"]] == ["mlp"] and doc["refresh_seconds"] == 1
        with urllib.request.urlopen(url + "api/curves?run=mlp", timeout=20) as res:
            assert json.loads(res.read())["runs"][0]["epoch"] == [1, 2, 3]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in err


@pytest.mark.parametrize("args, error", [
    (["{missing}"], "no such folder"),
    (["{root}", "--port", "70000"], "--port must be in 0..65535"),
    (["{root}", "--refresh", "0.1"], "--refresh must be in [0.5, 3600]"),
    (["{root}", "--timeout", "0"], "--timeout must be in (0, 3600]"),
])
def test_one_line_errors(tmp_path, capsys, args, error) -> None:
    args = [a.format(missing=tmp_path / "nope", root=tmp_path) for a in args]
    assert main(["board", *args]) == 1
    err = capsys.readouterr().err
    assert error in err and err.count("\n") == 1, err


def test_the_default_folder_hints_at_training(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["board"]) == 1
    assert "train a model first" in capsys.readouterr().err


def test_help_names_the_routes_and_options(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["board", "--help"])
    out = capsys.readouterr().out
    for word in ("/api/curves", "--allow-host", "--refresh", "--layers", "barenet serve"):
        assert word in out


def test_a_port_in_use_is_one_line(tmp_path, capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["board", str(tmp_path), "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
