"""`barenet explain` for real: text, --json fields, --target, --smooth, --out figures, and
one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.data.datasets import load_dataset
from barenet.explain import input_gradient
from barenet.train.checkpoint import load_run

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain_cli") / "run"
    assert main(["train", "--limit-train", "500", "--limit-test", "100", "--epochs", "1",
                 "--model", "mlp", "--hidden", "8", "--quiet", "--no-plots", "--out",
                 str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    """Test image 3 as a PNG file, black on white like a drawing."""
    image = pytest.importorskip("PIL.Image")
    path = tmp_path_factory.mktemp("pictures") / "digit.png"
    image.fromarray(255 - load_dataset("mnist", "test").images[3]).save(path)
    return path


def test_json_fields_and_gradient(run_dir, capsys):
    assert main(["explain", str(run_dir), "--index", "0", "1", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    test = load_dataset("mnist", "test")
    run = load_run(run_dir)
    grad, logits = input_gradient(run.model, run.normalize,
                                  test.images[:2].astype(np.float32) / 255)
    assert [r["index"] for r in records] == [0, 1]
    for r, g, z, y in zip(records, grad, logits, test.labels[:2]):
        assert set(r) >= {"file", "index", "true_label", "prediction", "label",
                          "probabilities", "target", "input_gradient"}
        assert r["file"] is None and r["true_label"] == str(y)
        assert r["prediction"] == r["target"] == int(z.argmax())
        assert len(r["probabilities"]) == 10 and sum(r["probabilities"]) == pytest.approx(1)
        assert np.array(r["input_gradient"]).shape == (28, 28)
        np.testing.assert_allclose(r["input_gradient"], g, rtol=1e-4,   # one picture vs two
                                   atol=1e-5 * np.abs(g).max())


def test_text_target_and_image_file(run_dir, digit_png, capsys):
    assert main(["explain", str(run_dir), str(digit_png), "--index", "0", "--target", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{digit_png}: ") and lines[1].startswith("test[0] (label 7): ")
    assert all("gradient peaks at row" in line and "on the ink" in line for line in lines)
    assert main(["explain", str(run_dir), str(digit_png), "--target", "3", "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["file"] == str(digit_png) and rec["target"] == 3


def test_smooth_is_reproducible_and_differs(run_dir, capsys):
    def grad(*extra):
        assert main(["explain", str(run_dir), "--index", "5", "--json", *extra]) == 0
        return np.array(json.loads(capsys.readouterr().out)[0]["input_gradient"])

    plain, smooth = grad(), grad("--smooth", "8")
    np.testing.assert_array_equal(smooth, grad("--smooth", "8"))
    assert not np.allclose(plain, smooth)


def test_out_writes_one_png_per_picture(run_dir, digit_png, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["explain", str(run_dir), str(digit_png), "--index", "0", "0",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == ["digit_explain.png", "test_0_2_explain.png", "test_0_explain.png"]
    assert all((out / n).read_bytes().startswith(PNG) for n in names)
    assert text.count("figure: ") == 3


@pytest.mark.parametrize("args, words", [
    (["--index", "10000"], "--index 10000: out of range"),
    (["--index", "0", "--target", "10"], "--target 10: expected a class index 0..9"),
    (["--index", "0", "--target", "seven"], "--target seven"),
    (["--index", "0", "--smooth", "-1"], "--smooth -1: expected 0..200"),
    (["--index", "0", "--smooth", "201"], "--smooth 201"),
    ([], "give at least one IMAGE or --index"),
    (["--index", *map(str, range(101))], "at most 100"),
])
def test_bad_requests_one_line(run_dir, capsys, args, words):
    line = one_error_line(capsys, main(["explain", str(run_dir), *args]))
    assert words in line, line


def test_not_a_run_directory(tmp_path, capsys):
    line = one_error_line(capsys, main(["explain", str(tmp_path), "--index", "0"]))
    assert str(tmp_path) in line and "run directory" in line


def test_unreadable_image_is_one_line_and_the_rest_still_explained(run_dir, tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    rc = main(["explain", str(run_dir), str(bad), "--index", "0", "--json"])
    captured = capsys.readouterr()
    assert rc == 1
    assert captured.err.strip().splitlines() == [
        f"barenet: error: {bad}: not a picture (expected PNG, JPEG, BMP or GIF)"]
    assert [r["index"] for r in json.loads(captured.out)] == [0]
