"""`barenet attack` for real: --json per run, eps 0 equal to `evaluate --limit`, the table,
--out figures for two runs, and one-line errors."""
from __future__ import annotations

import json

import pytest
from error_checks import one_error_line

from barenet.cli.attack import run_names
from barenet.cli.main import main

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack_cli")
    common = ["--limit-test", "100", "--epochs", "1", "--quiet", "--no-plots"]
    assert main(["train", "--limit-train", "500", "--model", "mlp", "--hidden", "8", *common,
                 "--out", str(root / "mlp")]) == 0
    assert main(["train", "--limit-train", "300", "--model", "cnn", "--hidden", "8", *common,
                 "--out", str(root / "cnn")]) == 0
    return root / "mlp", root / "cnn"


def test_json_per_run_and_eps_0_is_evaluate(runs, capsys):
    capsys.readouterr()
    assert main(["attack", *map(str, runs), "--limit", "300", "--eps", "0.1,0,0.3",
                 "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in results] == [str(r) for r in runs]
    for r, run in zip(results, runs):
        assert set(r) == {"run", "eps", "accuracy", "n"}
        assert r["eps"] == [0.0, 0.1, 0.3] and r["n"] == 300 and len(r["accuracy"]) == 3
        assert main(["evaluate", str(run), "--limit", "300", "--json", "--no-plots"]) == 0
        assert r["accuracy"][0] == json.loads(capsys.readouterr().out)["accuracy"]
        assert r["accuracy"][2] < r["accuracy"][0]


def test_table_and_default_eps(runs, capsys):
    assert main(["attack", str(runs[0]), "--limit", "50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("FGSM on the first 50 mnist test images")
    assert lines[1].split() == ["run", "eps", "0", "eps", "0.02", "eps", "0.05", "eps", "0.1",
                                "eps", "0.2"]
    assert lines[2].startswith("mlp ") and lines[2].count("%") == 5


def test_out_draws_both_figures(runs, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["attack", *map(str, runs), "--limit", "20", "--eps", "0,0.2",
                 "--out", str(out)]) == 0
    assert "figures: " in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["adversarial_examples.png",
                                                     "robustness.png"]
    assert all(p.read_bytes().startswith(PNG) for p in out.iterdir())


@pytest.mark.parametrize("eps, words", [
    ("0,,0.1", "expected comma-separated numbers"),
    ("abc", "expected comma-separated numbers"),
    ("-0.1", "eps -0.1: expected a number in [0, 1]"),
    ("0,1.5", "eps 1.5"),
    ("nan", "eps nan"),
    ("inf", "eps inf"),
    (",".join(["0.01"] * 21), "21 values, expected at most 20"),
])
def test_bad_eps_one_line(runs, capsys, eps, words):
    line = one_error_line(capsys, main(["attack", str(runs[0]), "--eps", eps]))
    assert words in line, line


def test_not_a_run_directory_is_refused_before_any_work(runs, tmp_path, capsys):
    line = one_error_line(capsys, main(["attack", str(runs[0]), str(tmp_path)]))
    assert str(tmp_path) in line and "run directory" in line


def test_too_many_runs(runs, capsys):
    line = one_error_line(capsys, main(["attack", *[str(runs[0])] * 11]))
    assert "11 runs, expected at most 10" in line


def test_run_names_are_short_unless_they_clash(tmp_path):
    a, b = tmp_path / "x" / "run", tmp_path / "y" / "run"
    assert run_names([str(tmp_path / "mlp"), str(tmp_path / "cnn")]) == ["mlp", "cnn"]
    assert run_names([str(a), str(b)]) == [str(a), str(b)]
