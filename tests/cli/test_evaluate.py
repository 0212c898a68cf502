"""`barenet evaluate` run for real: tables, --json, and bad run directories."""
import json
import os
import shutil

import numpy as np
import pytest
from error_checks import one_error_line

from barenet import nn, save_run
from barenet.cli.main import main
from barenet.train import train_model
from barenet.train.api import TrainingInterrupted
from barenet.train.checkpoint import FORMAT_VERSION
from barenet.train.trainer import Callback


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "run"
    result = train_model({"limit_train": 600, "limit_test": 300, "epochs": 2, "hidden": 32,
                          "batch_size": 50}, out, plots=False)
    return out, result


@pytest.fixture
def run_copy(trained, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained[0], dst)
    return dst


def snapshot(run):
    return {p.name: p.read_bytes() for p in run.iterdir()}


def test_json_has_the_documented_keys_and_matches_training(trained, capsys):
    run, result = trained
    assert main(["evaluate", str(run), "--json", "--limit", "300", "--no-plots"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"accuracy", "loss", "confusion_matrix", "per_class", "n", "dataset", "split",
            "run"} <= set(out)
    assert out["accuracy"] == pytest.approx(result.test_accuracy)
    assert out["loss"] == pytest.approx(result.test_loss)
    cm = np.array(out["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == out["n"] == 300
    assert np.trace(cm) / 300 == pytest.approx(out["accuracy"])
    assert [c["class"] for c in out["per_class"]] == [str(i) for i in range(10)]
    assert sum(c["support"] for c in out["per_class"]) == 300
    assert out["dataset"] == "mnist" and out["split"] == "test"


def test_tables(trained, capsys):
    assert main(["evaluate", str(trained[0]), "--limit", "200", "--no-plots"]) == 0
    out = capsys.readouterr().out
    for words in ("accuracy", "confusion matrix", "precision", "recall", "f1", "support",
                  "macro avg", "200 images"):
        assert words in out


def test_full_test_set_draws_figures_without_failing(run_copy, capsys):
    assert main(["evaluate", str(run_copy)]) == 0
    captured = capsys.readouterr()
    assert "10000 images" in captured.out
    assert "Traceback" not in captured.err


def _config(run, **changes):
    cfg = json.loads((run / "config.json").read_text())
    cfg.update(changes)
    (run / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize("damage, words", [
    (lambda r: _config(r, format_version=FORMAT_VERSION + 1), "made by a newer barenet"),
    (lambda r: (r / "config.json").write_text("{"), "config.json: invalid JSON"),
    (lambda r: (r / "config.json").unlink(), "config.json: missing"),
    (lambda r: (r / "weights.npz").write_bytes(b"\x00" * 10), "weights.npz: corrupt"),
    (lambda r: _config(r, model={"name": "mlp", "hidden": 31}), "does not match the model"),
])
def test_bad_run_dirs_one_line_nothing_overwritten(run_copy, capsys, damage, words):
    damage(run_copy)
    before = snapshot(run_copy)
    line = one_error_line(capsys, main(["evaluate", str(run_copy)]))
    assert words in line and str(run_copy) in line
    assert snapshot(run_copy) == before


def test_missing_run_dir(tmp_path, capsys):
    line = one_error_line(capsys, main(["evaluate", str(tmp_path / "nope")]))
    assert "nope: no such run directory" in line


def test_a_file_instead_of_a_run_dir(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    line = one_error_line(capsys, main(["evaluate", str(tmp_path / "file")]))
    assert "not a directory" in line


def test_unknown_dataset(trained, capsys):
    line = one_error_line(capsys, main(["evaluate", str(trained[0]), "--dataset", "svhn"]))
    assert "unknown dataset 'svhn'" in line


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "examples:" in capsys.readouterr().out


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permissions do not stop root")
def test_unreadable_run_dir(run_copy, capsys):
    (run_copy / "config.json").chmod(0)
    try:
        line = one_error_line(capsys, main(["evaluate", str(run_copy)]))
    finally:
        (run_copy / "config.json").chmod(0o644)
    assert "config.json: cannot read" in line


def test_validation_split_is_the_runs_own(trained, capsys):
    """--split val draws the run's validation images again from its seed and val_split: the
    kept (best) weights score exactly the best validation accuracy training reported."""
    run, result = trained
    assert main(["evaluate", str(run), "--split", "val", "--json", "--no-plots"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "val" and out["n"] == 60           # 10% of --limit-train 600
    assert out["accuracy"] == result.best_val_acc
    best = result.history[result.best_epoch - 1]
    assert out["loss"] == pytest.approx(best["val_loss"], rel=1e-5)


def test_validation_split_in_tables_and_any_case(trained, capsys):
    assert main(["evaluate", str(trained[0]), "--split", "VAL", "--dataset", "MNIST",
                 "--no-plots"]) == 0
    assert "mnist validation split (the run's own: seed 0, val_split 0.1), 60 images" in \
        capsys.readouterr().out


def test_validation_split_of_a_run_without_one(tmp_path, capsys):
    out = tmp_path / "mine"
    save_run(out, nn.Sequential(nn.Linear(784, 10, rng=0)), dataset="mnist")
    line = one_error_line(capsys, main(["evaluate", str(out), "--split", "val"]))
    assert f"{out}: no validation split to draw again" in line


def test_validation_split_of_another_dataset(trained, capsys):
    line = one_error_line(capsys, main(["evaluate", str(trained[0]), "--split", "val",
                                        "--dataset", "fashion-mnist"]))
    assert "--split val is the validation split of mnist" in line and str(trained[0]) in line


def test_unknown_split_is_refused(trained, capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", str(trained[0]), "--split", "holdout"])
    assert "invalid choice: 'holdout'" in capsys.readouterr().err


class _StopAtFirstBatch(Callback):
    def on_batch_end(self, epoch, batch, loss):
        raise KeyboardInterrupt


def test_untrained_run_warns_in_one_line(tmp_path, capsys):
    out = tmp_path / "run0"
    with pytest.raises(TrainingInterrupted):
        train_model({"limit_train": 200, "limit_test": 50, "epochs": 1, "hidden": 8}, out,
                    callbacks=[_StopAtFirstBatch()], plots=False)
    assert main(["evaluate", str(out), "--limit", "50", "--no-plots"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"barenet: warning: {out}: untrained (0 epochs completed), these are the "
                   f"random initial weights; continue with barenet train --resume {out}"]


def test_trained_run_does_not_warn(trained, capsys):
    assert main(["evaluate", str(trained[0]), "--limit", "50", "--no-plots"]) == 0
    assert capsys.readouterr().err == ""


def test_names_in_any_case(tmp_path, capsys):
    """--model, --optimizer, --scheduler and --dataset take any case."""
    out = tmp_path / "cnn"
    assert main(["train", "--model", "CNN", "--optimizer", "Adam", "--scheduler", "OneCycle",
                 "--dataset", "MNIST", "--epochs", "1", "--limit-train", "300",
                 "--limit-test", "50", "--quiet", "--no-plots", "--out", str(out)]) == 0
    capsys.readouterr()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"]["name"] == "cnn" and cfg["dataset"] == "mnist"
    assert cfg["hyperparameters"]["optimizer"] == "adam"
    assert cfg["hyperparameters"]["scheduler"] == "onecycle"
    assert main(["evaluate", str(out), "--dataset", "Mnist", "--limit", "50", "--json",
                 "--no-plots"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"] == "mnist"
