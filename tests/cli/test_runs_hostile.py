"""The CLI on run directories written to hurt: terminal escapes and forged rows in `barenet
runs`, a symlink loop beside good runs, and NaN kept out of `evaluate --json`."""
from __future__ import annotations

import json
import os

import pytest

from barenet import nn, save_run
from barenet.cli.main import main


def _edit(run_dir, **changes):
    cfg = json.loads((run_dir / "config.json").read_text())
    cfg.update(changes)
    (run_dir / "config.json").write_text(json.dumps(cfg))


def test_runs_shows_every_string_escaped_and_cut(tmp_path, capsys):
    root = tmp_path / "R"
    evil = "evil\x1b[2J\nforged  row"
    save_run(root / evil, nn.Sequential(nn.Linear(784, 10)))
    _edit(root / evil, model={"name": "m\x1b]0;title\x07"}, dataset="d\x1b[31m" + "x" * 5000,
          created="2026\r\n fake")
    save_run(root / "good", nn.Sequential(nn.Linear(784, 10)))
    assert main(["runs", str(root)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\x07" not in out
    lines = out.splitlines()
    assert len(lines) == 3, lines     # the header and two rows: no forged row
    assert all(len(line) < 600 for line in lines)
    assert "\\x1b" in out


def test_runs_lists_good_runs_beside_a_symlink_loop(tmp_path, capsys):
    root = tmp_path / "R"
    save_run(root / "good", nn.Sequential(nn.Linear(784, 10)))
    os.symlink("self", root / "self")
    assert main(["runs", str(root)]) == 0
    out = capsys.readouterr().out
    assert "good" in out and "saved" in out
    assert any(line.startswith("self") and "unreadable" in line for line in out.splitlines())


def test_evaluate_json_never_holds_nan(tmp_path, capsys):
    run_dir = tmp_path / "run"
    model = nn.Sequential(nn.Linear(784, 10))
    model[0].weight.data[:] = 3e38       # finite weights whose logits overflow
    model[0].weight.data[:, ::2] = -3e38
    save_run(run_dir, model)
    assert main(["evaluate", str(run_dir), "--limit", "20", "--json", "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text, text[:300]
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


@pytest.mark.parametrize("argv", [["predict", "{run}", "--index", "0", "1", "--json"],
                                  ["explain", "{run}", "--index", "0", "--json"],
                                  ["attack", "{run}", "--limit", "10", "--json"]],
                         ids=["predict", "explain", "attack"])
def test_json_output_never_holds_nan(argv, tmp_path, capsys):
    """Logits that overflow give NaN probabilities; the JSON says null, never a bare NaN."""
    run_dir = tmp_path / "run"
    model = nn.Sequential(nn.Linear(784, 10))
    model[0].weight.data[:] = 3e38
    model[0].weight.data[:, ::2] = -3e38
    save_run(run_dir, model)
    assert main([a.format(run=run_dir) for a in argv]) == 0
    text = capsys.readouterr().out
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def test_serve_answers_strict_json_for_overflowing_logits(tmp_path):
    """The server's predictions of such a run are 200 with null probabilities, not a 500."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    run_dir = tmp_path / "run"
    model = nn.Sequential(nn.Linear(784, 10))
    model[0].weight.data[:] = 3e38
    model[0].weight.data[:, ::2] = -3e38
    save_run(run_dir, model)
    proc = subprocess.Popen([sys.executable, "-m", "barenet", "serve", str(run_dir), "--port",
                             "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        match = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline())
        assert match, proc.stderr.read()
        body = json.dumps({"pixels": [128] * 784}).encode()
        req = urllib.request.Request(match.group(0) + "api/predict", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as res:
            assert res.status == 200
            json.loads(res.read(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
