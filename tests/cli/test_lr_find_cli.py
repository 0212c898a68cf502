"""``barenet tune --lr-find`` for real, on a small slice of MNIST: the curve and figure it
writes, the training line it prints (which ``barenet train`` accepts), output directories,
and one-line errors."""
from __future__ import annotations

import json
import re
import shlex

import numpy as np
import pytest
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.tune.lr_find import smooth

FAST = ["--limit-train", "600", "--batch-size", "32", "--num-batches", "60"]


def _png_ok(path) -> None:
    from PIL import Image

    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) >= 200
        assert np.asarray(im.convert("L"), dtype=np.float64).std() > 5


def test_writes_the_curve_and_figure_and_prints_a_train_line_that_works(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "lrf"
    assert main(["tune", "--lr-find", *FAST, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rec = json.loads((out / "lr_find.json").read_text())
    assert (rec["model"], rec["dataset"], rec["optimizer"], rec["batch_size"], rec["seed"]) == \
        ("mlp", "mnist", "sgd", 32, 0)
    assert rec["train_samples"] == 540 and rec["rule"] == "min/10"
    lrs = np.array([c["lr"] for c in rec["curve"]])
    losses = np.array([c["loss"] for c in rec["curve"]])
    assert len(lrs) == rec["batches_run"] <= 60 and lrs[0] == 1e-7
    np.testing.assert_allclose(lrs[1:] / lrs[:-1], (10 / 1e-7) ** (1 / 59), rtol=1e-9)
    np.testing.assert_allclose([c["smoothed"] for c in rec["curve"]], smooth(losses, 0.98),
                               rtol=1e-12)
    assert rec["suggestion"] == rec["candidates"]["min/10"] == rec["min_loss_lr"] / 10
    _png_ok(out / "lr_find.png")
    shown = f"{rec['suggestion']:.3g}"
    assert f"suggestion (min/10): lr {shown}" in text
    assert f"other rule (steepest): lr {rec['candidates']['steepest']:.3g}" in text
    line = re.search(r"^train with it: (barenet train .*)$", text, re.M).group(1)
    assert line == ("barenet train --model mlp --dataset mnist --optimizer sgd --batch-size 32 "
                    f"--limit-train 600 --lr {shown}")
    run = tmp_path / "run"
    argv = shlex.split(line)[1:] + ["--epochs", "1", "--no-plots", "--quiet", "--out", str(run)]
    assert main(argv) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["hyperparameters"]["lr"] == float(shown)
    assert cfg["hyperparameters"]["batch_size"] == 32 and cfg["model"]["name"] == "mlp"


def test_the_settings_given_reach_the_test_and_the_train_line(tmp_path, capsys):
    out = tmp_path / "lrf"
    assert main(["tune", "--lr-find", *FAST, "--optimizer", "adam", "--hidden", "32",
                 "--momentum", "0.8", "--seed", "3", "--start-lr", "1e-5", "--end-lr", "1",
                 "--rule", "steepest", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rec = json.loads((out / "lr_find.json").read_text())
    assert (rec["optimizer"], rec["momentum"], rec["seed"], rec["spec"]["hidden"]) == \
        ("adam", 0.8, 3, 32)
    assert rec["rule"] == "steepest" and rec["curve"][0]["lr"] == 1e-5
    assert rec["suggestion"] == rec["candidates"]["steepest"] is not None
    assert f"suggestion (steepest): lr {rec['suggestion']:.3g}" in text
    assert ("train with it: barenet train --model mlp --dataset mnist --hidden 32 --optimizer "
            "adam --batch-size 32 --momentum 0.8 --seed 3 --limit-train 600 --lr "
            f"{rec['suggestion']:.3g}\n") in text


def test_the_same_seed_gives_the_same_curve(tmp_path):
    for name in ("a", "b"):
        assert main(["tune", "--lr-find", *FAST, "--out", str(tmp_path / name)]) == 0
    a, b = (json.loads((tmp_path / n / "lr_find.json").read_text()) for n in ("a", "b"))
    assert a["curve"] == b["curve"] and a["suggestion"] == b["suggestion"]


def test_an_existing_result_is_replaced_only_with_overwrite(tmp_path, capsys):
    out = tmp_path / "lrf"
    assert main(["tune", "--lr-find", *FAST, "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    rc = main(["tune", "--lr-find", *FAST, "--seed", "1", "--out", str(out)])
    line = one_error_line(capsys, rc)
    assert f"{out}: already holds a range test (lr_find.json" in line and "--overwrite" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["tune", "--lr-find", *FAST, "--seed", "1", "--out", str(out),
                 "--overwrite"]) == 0
    assert json.loads((out / "lr_find.json").read_text())["seed"] == 1
    assert (out / "notes.txt").read_text() == "mine"


def test_a_folder_of_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    line = one_error_line(capsys, main(["tune", "--lr-find", *FAST, "--out", str(tmp_path)]))
    assert "not empty" in line and not (tmp_path / "lr_find.json").exists()


def test_a_link_planted_in_the_output_is_never_followed(tmp_path, capsys):
    out, target = tmp_path / "lrf", tmp_path / "elsewhere.json"
    out.mkdir()
    target.write_text("keep")
    (out / "lr_find.json").symlink_to(target)
    line = one_error_line(capsys, main(["tune", "--lr-find", *FAST, "--out", str(out)]))
    assert "symbolic link" in line
    assert main(["tune", "--lr-find", *FAST, "--out", str(out), "--overwrite"]) == 0
    assert target.read_text() == "keep" and not (out / "lr_find.json").is_symlink()


@pytest.mark.parametrize("argv,match", [
    (["--start-lr", "1", "--end-lr", "0.1"], "--start-lr 1 must be below --end-lr 0.1"),
    (["--start-lr", "0"], "--start-lr must be a positive number"),
    (["--end-lr", "-3"], "--end-lr must be a positive number"),
    (["--num-batches", "5"], "--num-batches must be an integer >= 20"),
    (["--rule", "valley"], "unknown rule 'valley'"),
    (["--trials", "3"], "--trials does not apply to --lr-find"),
    (["--epochs", "2"], "--epochs does not apply to --lr-find"),
    (["--lr", "0.1"], "--lr does not apply to --lr-find"),
    (["--values", "0.1"], "--values does not apply to --lr-find"),
    (["--jobs", "2"], "--jobs does not apply to --lr-find"),
    (["--model", "nope"], "nope"),
    (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
])
def test_bad_options_are_one_line_errors_and_make_no_directory(tmp_path, capsys, argv, match):
    out = tmp_path / "lrf"
    line = one_error_line(capsys, main(["tune", "--lr-find", *argv, "--out", str(out)]),
                          stdout_empty=True)
    assert match in line and not out.exists()


@pytest.mark.parametrize("flag", [["--start-lr", "1e-5"], ["--num-batches", "50"],
                                  ["--rule", "steepest"]])
def test_range_test_flags_without_lr_find_are_refused(tmp_path, capsys, flag):
    line = one_error_line(capsys, main(["tune", *flag, "--out", str(tmp_path / "t")]))
    assert f"{flag[0]} is for the learning-rate range test: add --lr-find" in line


def test_no_suggestion_when_the_loss_never_falls(tmp_path, capsys):
    out = tmp_path / "lrf"
    rc = main(["tune", "--lr-find", "--limit-train", "600", "--start-lr", "1", "--end-lr",
               "1000", "--num-batches", "40", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 1 and "no suggestion" in text and "train with it" not in text
    rec = json.loads((out / "lr_find.json").read_text())
    assert rec["suggestion"] is None and rec["batches_run"] < 40 and "4 x" in rec["stop"]


def test_the_help_describes_the_range_test(capsys):
    with pytest.raises(SystemExit) as info:
        main(["tune", "--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0
    for words in ("--lr-find", "first learning rate (default: 1e-07)",
                  "last learning rate (default: 10)", "(default: 300)",
                  "min/10 or steepest (default: min/10)", "DIR/lr_find.json"):
        assert words in " ".join(text.split()), words
