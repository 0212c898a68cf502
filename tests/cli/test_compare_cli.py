"""``barenet compare`` for real: the JSON both libraries fill, the figure, and agreement."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from barenet.cli.main import main

torch = pytest.importorskip("torch")


def assert_png(path: Path) -> None:
    from PIL import Image

    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] >= 800 and im.size[1] >= 250
        assert np.asarray(im.convert("L"), dtype=np.float64).std() > 5


def test_classic_mlp_agrees_with_pytorch(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "cmp"
    assert main(["compare", "--epochs", "2", "--limit-train", "640", "--limit-test", "300",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "epoch 2: barenet loss" in text and f"wrote {out / 'comparison.json'}" in text
    r = json.loads((out / "comparison.json").read_text())
    assert set(r) >= {"barenet", "pytorch", "config", "agreement", "notes"}
    assert r["config"]["model"] == "mlp" and r["config"]["train_examples"] == 640
    for lib in ("barenet", "pytorch"):
        rec = r[lib]
        assert [e["epoch"] for e in rec["epochs"]] == [1, 2]
        assert set(rec["epochs"][0]) >= {"train_loss", "train_acc", "test_acc", "seconds"}
        assert 0 <= rec["test_accuracy"] <= 1 and rec["train_seconds"] > 0
    b, t = r["barenet"]["epochs"], r["pytorch"]["epochs"]
    assert abs(b[0]["train_loss"] - t[0]["train_loss"]) < 1e-4    # same start, same batches
    assert abs(b[1]["train_loss"] - t[1]["train_loss"]) < 1e-3
    assert abs(r["barenet"]["test_accuracy"] - r["pytorch"]["test_accuracy"]) <= 2 / 300
    assert_png(out / "comparison.png")


def test_cnn_with_dropout_runs_and_says_masks_differ(tmp_path):
    out = tmp_path / "cnn"
    assert main(["compare", "--model", "cnn", "--epochs", "1", "--limit-train", "64",
                 "--batch-size", "32", "--limit-test", "50", "--out", str(out)]) == 0
    r = json.loads((out / "comparison.json").read_text())
    assert r["config"]["model_spec"]["name"] == "cnn"
    assert r["agreement"]["initial_output_max_abs_diff"] < 1e-4
    assert len(r["barenet"]["batch_losses"]) == len(r["pytorch"]["batch_losses"]) == 2
    assert any("Dropout" in note and "masks" in note for note in r["notes"])


def test_missing_torch_is_one_line_with_the_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["compare", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['barenet: error: PyTorch is not installed: pip install "barenet[torch]"']
    assert not (tmp_path / "x").exists()


def test_bad_model_is_one_line(tmp_path, capsys):
    assert main(["compare", "--model", "resnet", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'resnet'" in err[0]


def test_an_existing_output_is_refused_before_training_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "index.md").write_text("mine")
    argv = ["compare", "--epochs", "1", "--limit-train", "64", "--batch-size", "32",
            "--limit-test", "50", "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{out}: " in err[0] and "--overwrite" in err[0]
    assert [p.name for p in out.iterdir()] == ["index.md"]
    assert main([*argv, "--overwrite"]) == 0
    assert (out / "comparison.json").exists() and (out / "index.md").read_text() == "mine"
