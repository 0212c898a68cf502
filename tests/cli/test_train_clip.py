"""`barenet train --clip-grad-norm`: the flag reaches the run, its figure and metrics, resume
keeps or changes it, and bad values are refused in one line."""
import csv
import json

import pytest
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.train import load_run

QUICK = ["--limit-train", "500", "--limit-test", "100", "--epochs", "2", "--hidden", "16",
         "--batch-size", "50", "--quiet"]


def config(run):
    return json.loads((run / "config.json").read_text())


def test_the_flag_reaches_the_run_its_metrics_and_its_figure(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--clip-grad-norm", "1e-3", "--diagnostics",
                 "--out", str(out)]) == 0
    assert config(out)["hyperparameters"]["clip_grad_norm"] == 1e-3
    with open(out / "metrics.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [float(r["clip/fraction_clipped"]) for r in table] == [1.0, 1.0]
    assert all(float(r["clip/total_norm"]) > 1e-3 for r in table)
    assert (out / "gradient_flow.png").stat().st_size > 10_000
    plain = tmp_path / "p"
    assert main(["train", *QUICK, "--no-plots", "--out", str(plain)]) == 0
    assert config(plain)["hyperparameters"]["clip_grad_norm"] is None
    assert config(plain)["test_accuracy"] != config(out)["test_accuracy"]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "abc", "1e999"])
def test_bad_values_one_line_and_no_run_dir(tmp_path, capsys, value):
    out = tmp_path / "r"
    line = one_error_line(capsys, main(["train", *QUICK, "--clip-grad-norm", value,
                                        "--out", str(out)]))
    assert "--clip-grad-norm must be a number > 0 (or off), got" in line
    assert not out.exists()


def test_resume_keeps_changes_and_drops_it(tmp_path, capsys):
    out = tmp_path / "r"
    base = [*QUICK, "--momentum", "0", "--no-plots"]
    rc = main(["train", *base, "--lr", "1e6", "--clip-grad-norm", "0.5", "--out", str(out)])
    line = one_error_line(capsys, rc)   # diverged in epoch 1: resumable from epoch 0
    assert "diverged" in line
    line = one_error_line(capsys, main(["train", "--resume", str(out), "--quiet"]))
    assert "diverged" in line and config(out)["hyperparameters"]["clip_grad_norm"] == 0.5
    assert main(["train", "--resume", str(out), "--lr", "0.05", "--clip-grad-norm", "2",
                 "--no-plots", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert (f"resuming {out} after epoch 0 with new settings: lr 1e+06 -> 0.05, "
            "clip_grad_norm 0.5 -> 2") in err
    cfg = config(out)
    assert cfg["hyperparameters"]["clip_grad_norm"] == 2.0
    assert cfg["settings_changed"] == [{"after_epoch": 0, "lr": [1e6, 0.05],
                                        "clip_grad_norm": [0.5, 2.0]}]
    later = tmp_path / "later"
    assert main(["train", "--from", str(out), "--out", str(later), "--epochs", "1",
                 "--clip-grad-norm", "off", "--no-plots", "--quiet"]) == 0
    assert config(later)["hyperparameters"]["clip_grad_norm"] is None
    load_run(later)


def test_help_names_the_flag(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--clip-grad-norm C" in out and "--clip-grad-norm 1" in out
