"""Figures of attack, explain and predict: an existing file is replaced only with --overwrite,
refused in one line (naming it) before any work, and a symlink in DIR is never written through."""
from __future__ import annotations

import pytest
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.data.datasets import load_dataset

PNG = b"\x89PNG\r\n\x1a\n"
OLD = b"the user's own file"

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("overwrite_cli") / "run"
    assert main(["train", "--limit-train", "300", "--limit-test", "50", "--epochs", "1",
                 "--model", "mlp", "--hidden", "8", "--quiet", "--no-plots", "--out",
                 str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    image = pytest.importorskip("PIL.Image")
    path = tmp_path_factory.mktemp("pictures") / "digit-7.png"
    image.fromarray(255 - load_dataset("mnist", "test").images[0]).save(path)
    return path


def _commands(run_dir, digit_png, out):
    return {
        "attack": (["attack", str(run_dir), "--limit", "20", "--eps", "0,0.1", "--out",
                    str(out)], "robustness.png"),
        "explain": (["explain", str(run_dir), str(digit_png), "--out", str(out)],
                    "digit-7_explain.png"),
        "predict": (["predict", str(run_dir), str(digit_png), "--save-annotated", str(out)],
                    "digit-7_annotated.png"),
    }


@pytest.mark.parametrize("command", ["attack", "explain", "predict"])
def test_existing_figure_refused_without_overwrite(run_dir, digit_png, tmp_path, capsys,
                                                   command):
    out = tmp_path / "O"
    out.mkdir()
    argv, name = _commands(run_dir, digit_png, out)[command]
    (out / name).write_bytes(OLD)
    line = one_error_line(capsys, main(argv), stdout_empty=True)
    assert str(out / name) in line and "--overwrite" in line
    assert (out / name).read_bytes() == OLD
    assert sorted(p.name for p in out.iterdir()) == [name]      # nothing else written either

    assert main(argv + ["--overwrite"]) == 0
    capsys.readouterr()
    assert (out / name).read_bytes().startswith(PNG)


@pytest.mark.parametrize("command", ["attack", "explain", "predict"])
def test_new_figures_need_no_overwrite(run_dir, digit_png, tmp_path, capsys, command):
    out = tmp_path / "O"
    out.mkdir()
    (out / "unrelated.txt").write_bytes(OLD)      # other files in DIR are no obstacle
    argv, name = _commands(run_dir, digit_png, out)[command]
    assert main(argv) == 0
    capsys.readouterr()
    assert (out / name).read_bytes().startswith(PNG)
    assert (out / "unrelated.txt").read_bytes() == OLD


@pytest.mark.parametrize("command", ["attack", "explain", "predict"])
def test_symlink_never_followed_out_of_dir(run_dir, digit_png, tmp_path, capsys, command):
    out = tmp_path / "O"
    out.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_bytes(OLD)
    argv, name = _commands(run_dir, digit_png, out)[command]
    (out / name).symlink_to(outside)
    line = one_error_line(capsys, main(argv), stdout_empty=True)
    assert str(out / name) in line
    assert outside.read_bytes() == OLD
    assert main(argv + ["--overwrite"]) == 0     # replaces the link itself, not its target
    capsys.readouterr()
    assert outside.read_bytes() == OLD
    assert not (out / name).is_symlink() and (out / name).read_bytes().startswith(PNG)


def test_dangling_symlink_counts_as_existing(run_dir, digit_png, tmp_path, capsys):
    out = tmp_path / "O"
    out.mkdir()
    argv, name = _commands(run_dir, digit_png, out)["explain"]
    (out / name).symlink_to(tmp_path / "nowhere.png")
    line = one_error_line(capsys, main(argv), stdout_empty=True)
    assert str(out / name) in line
    assert not (tmp_path / "nowhere.png").exists()


def test_long_figure_name_is_written(run_dir, tmp_path, capsys):
    image = pytest.importorskip("PIL.Image")
    picture = tmp_path / ("d" * 236 + ".png")                 # a valid 240-character name
    image.fromarray(255 - load_dataset("mnist", "test").images[0]).save(picture)
    out = tmp_path / "O"
    assert main(["explain", str(run_dir), str(picture), "--out", str(out)]) == 0
    capsys.readouterr()
    figure = out / ("d" * 236 + "_explain.png")               # 248 characters
    assert figure.read_bytes().startswith(PNG)
    assert [p.name for p in out.iterdir()] == [figure.name]
