"""``barenet exercises``: the list, ``start`` (never overwrites), ``check`` (exit 0/1/2, --json,
one-line errors with file:line)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from barenet.cli.main import main
from barenet.exercises import NAMES

RELU_SOLUTION = '''\
# barenet-exercise: relu
import numpy as np

from barenet import nn


class ReLU(nn.Module):
    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask
'''


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["exercises", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_in_teaching_order_with_docs_and_notebooks(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    positions = [out.index(f" {name} ") for name in NAMES]
    assert positions == sorted(positions)
    assert "docs/linear.md" in out and "02-mlp-from-scratch" in out and "09-attention" in out
    code, out, _ = run(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == list(NAMES)
    assert {"name", "class", "signature", "kind", "asks", "docs", "notebook"} <= set(rows[0])
    assert all((Path(__file__).parents[2] / r["docs"]).is_file() for r in rows)


def test_start_writes_the_stub_and_never_overwrites(here: Path, capsys) -> None:
    code, out, _ = run(capsys, "start", "linear")
    path = here / "exercises" / "linear.py"
    assert code == 0 and path.is_file() and "exercises/linear.py" in out
    assert "class Linear(nn.Module)" in path.read_text()
    path.write_text("# my work\n")
    code, out, err = run(capsys, "start", "linear")
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "already exists" in err
    assert path.read_text() == "# my work\n"
    code, _, _ = run(capsys, "start", "conv2d", "--dir", "mine")
    assert code == 0 and (here / "mine" / "conv2d.py").is_file()


def test_start_unknown_exercise_is_a_usage_error(here: Path, capsys) -> None:
    code, _, err = run(capsys, "start", "nope")
    assert code == 2 and "unknown exercise 'nope'" in err and err.count("\n") == 1


def test_check_exit_codes_and_json(here: Path, capsys) -> None:
    run(capsys, "start", "linear")
    code, out, _ = run(capsys, "check", "exercises/linear.py")
    assert code == 1 and "linear (exercises/linear.py): not written yet" in out
    (here / "exercises" / "my_relu.py").write_text(RELU_SOLUTION)   # found by its marker
    code, out, _ = run(capsys, "check", "exercises/my_relu.py")
    assert code == 0 and "relu (exercises/my_relu.py): passed" in out and "PASS dL/dx" in out
    code, out, _ = run(capsys, "check", "exercises", "--json")
    records = json.loads(out)
    assert code == 1
    assert [(r["exercise"], r["status"]) for r in records] == [("linear", "not written"),
                                                             ("relu", "passed")]
    for r in records:
        assert set(r) == {"exercise", "file", "status", "checks"}
        assert all(set(c) == {"name", "passed", "message"} for c in r["checks"])
    (here / "exercises" / "linear.py").unlink()
    code, _, _ = run(capsys, "check", "exercises")
    assert code == 0


def test_check_a_file_with_a_syntax_error_gives_file_and_line(here: Path, capsys) -> None:
    bad = here / "relu.py"
    bad.write_text("import numpy as np\ndef forward(x:\n")
    code, out, err = run(capsys, "check", "relu.py")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "relu.py:2: SyntaxError" in err


def test_check_a_file_failing_at_import_gives_file_and_line(here: Path, capsys) -> None:
    (here / "tanh.py").write_text("import numpy as np\n\nx = 1 / 0\n")
    code, _, err = run(capsys, "check", "tanh.py")
    assert code == 2 and "tanh.py:3: ZeroDivisionError" in err and err.count("\n") == 1


def test_check_usage_errors(here: Path, capsys) -> None:
    (here / "other.py").write_text("x = 1\n")
    assert run(capsys, "check", "other.py")[0] == 2                 # not an exercise file
    (here / "marked.py").write_text("# barenet-exercise: nope\n")
    code, _, err = run(capsys, "check", "marked.py")
    assert code == 2 and "unknown exercise 'nope'" in err
    (here / "empty").mkdir()
    assert run(capsys, "check", "empty")[0] == 2
    assert run(capsys, "check", "missing.py")[0] == 2


def test_check_a_file_without_the_class_fails(here: Path, capsys) -> None:
    (here / "sigmoid.py").write_text("class Sigmoidal:\n    pass\n")
    code, out, _ = run(capsys, "check", "sigmoid.py")
    assert code == 1 and "defines no class Sigmoid" in out
