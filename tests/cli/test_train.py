"""`barenet train` run for real: outputs, run directory, resume, Ctrl-C, bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from barenet.cli.main import main
from barenet.data.idx import write_idx
from barenet.train import load_run

QUICK = ["--limit-train", "500", "--limit-test", "200", "--epochs", "2", "--hidden", "16",
         "--batch-size", "50", "--no-plots"]
MNIST = Path(__import__("barenet").__file__).parent / "_data" / "mnist"
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def one_error_line(capsys, rc):
    err = capsys.readouterr().err
    assert rc == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("barenet: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_train_writes_a_complete_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "test accuracy" in captured.out and str(out) in captured.out
    assert "epoch 1/2" in captured.err and "epoch 2/2" in captured.err
    assert {"config.json", "weights.npz", "metrics.csv", "trainer.json", "resume.npz"} <= \
        {p.name for p in out.iterdir()}
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == {"name": "mlp", "hidden": 16} and 0 < cfg["test_accuracy"] <= 1
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds" and len(rows) == 3
    assert load_run(out).predict(np.zeros((1, 28, 28), np.uint8)).shape == (1,)


def test_quiet_prints_only_the_summary(tmp_path, capsys):
    assert main(["train", *QUICK, "--out", str(tmp_path / "r"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "test accuracy" in captured.out


def test_config_file_with_flags_overriding(tmp_path, capsys):
    conf = tmp_path / "best.json"
    conf.write_text(json.dumps({"lr": 0.02, "optimizer": "sgd", "hidden": 12, "epochs": 1}))
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--config", str(conf), "--hidden", "10", "--out", str(out),
                 "--quiet"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["hyperparameters"]["lr"] == 0.02 and cfg["model"]["hidden"] == 10
    assert cfg["hyperparameters"]["epochs"] == 2  # the flag in QUICK wins over the file


def test_existing_run_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    line = one_error_line(capsys, main(["train", *QUICK, "--out", str(out), "--quiet"]))
    assert str(out) in line and "--resume" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_default_out_dir_is_new_each_time(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *QUICK, "--quiet"]) == 0
    assert main(["train", *QUICK, "--quiet"]) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all(r.startswith("mlp-mnist-") for r in runs)


def test_resume_continues_and_refuses_new_settings(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    line = one_error_line(capsys, main(["train", "--resume", str(out), "--lr", "0.1"]))
    assert "drop --lr" in line
    line = one_error_line(capsys, main(["train", "--resume", str(out)]))
    assert "already finished" in line


@pytest.mark.parametrize("argv, words", [
    (["--model", "resnet50"], "unknown model 'resnet50'"),
    (["--dataset", "cifar10"], "unknown dataset 'cifar10'"),
    (["--optimizer", "lbfgs"], "--optimizer must be one of"),
    (["--hidden", "0"], "hidden must be an integer"),
    (["--config", "/nonexistent/best.json"], "best.json: missing"),
])
def test_bad_settings_one_line_and_no_run_dir(tmp_path, capsys, argv, words):
    out = tmp_path / "r"
    line = one_error_line(capsys, main(["train", *QUICK, *argv, "--out", str(out)]))
    assert words in line
    assert not out.exists()


def test_resume_of_a_missing_run(capsys):
    line = one_error_line(capsys, main(["train", "--resume", "/nonexistent/run"]))
    assert "/nonexistent/run: no such run directory" in line


def data_dir_with(tmp_path, damage):
    """A data directory linking the embedded MNIST files, with one file replaced."""
    d = tmp_path / "data"
    d.mkdir()
    for name in FILES:
        (d / name).symlink_to(MNIST / name)
    name, content = damage
    (d / name).unlink()
    if content is not None:
        if callable(content):
            content(d / name)
        else:
            (d / name).write_bytes(content)
    return d


def _truncated(path):
    path.write_bytes((MNIST / path.name).read_bytes()[:100_000])


def _few_images(path):
    write_idx(path, np.zeros((10, 28, 28), np.uint8))


def _label_out_of_range(path):
    labels = np.zeros(60000, np.uint8)
    labels[5] = 10
    write_idx(path, labels)


@pytest.mark.parametrize("damage, words", [
    ((FILES[0], None), "not found"),
    ((FILES[0], _truncated), FILES[0]),
    ((FILES[0], b"this is not gzip and not IDX either" * 10), FILES[0]),
    ((FILES[0], _few_images), "sha256 mismatch"),
    ((FILES[1], _label_out_of_range), FILES[1]),
])
def test_bad_data_dir_one_line_naming_the_file(tmp_path, capsys, damage, words):
    data = data_dir_with(tmp_path, damage)
    out = tmp_path / "r"
    line = one_error_line(capsys, main(["train", *QUICK, "--data-dir", str(data),
                                        "--out", str(out)]))
    assert words in line and damage[0] in line
    assert not out.exists()


def test_missing_data_dir(tmp_path, capsys):
    line = one_error_line(capsys, main(["train", *QUICK, "--data-dir", str(tmp_path / "no"),
                                        "--out", str(tmp_path / "r")]))
    assert str(tmp_path / "no") in line


def test_divergence_exits_1_with_one_line_and_keeps_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(["train", *QUICK, "--lr", "1e6", "--momentum", "0", "--out", str(out), "--quiet"])
    line = one_error_line(capsys, rc)
    assert "diverged" in line and "epoch 1, batch" in line and "lower --lr" in line
    load_run(out)  # the checkpoint before the first epoch is intact and loads


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "--limit-train" in out and "--resume" in out


def test_sigint_saves_a_resumable_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "r"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "barenet", "train", "--limit-train", "3000", "--hidden", "16",
         "--epochs", "500", "--limit-test", "100", "--no-plots", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            progress = out / "trainer.json"
            if progress.exists() and json.loads(progress.read_text())["epoch"] >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("training did not complete two epochs in 60 s")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert f"barenet train --resume {out}" in err and "Traceback" not in err
    from barenet.train.resume import read_resume_state

    state, _ = read_resume_state(out)
    assert state["epoch"] >= 2 and not state["finished"]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    load_run(out)


@pytest.mark.slow
def test_default_training_reaches_98_percent(tmp_path, capsys):
    """`barenet train` with no options, then `barenet evaluate RUN --json`: >= 98.0%."""
    out = tmp_path / "default"
    start = time.perf_counter()
    assert main(["train", "--out", str(out)]) == 0
    seconds = time.perf_counter() - start
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json", "--no-plots"]) == 0
    result = json.loads(capsys.readouterr().out)
    print(f"default run: test accuracy {result['accuracy']:.4f} in {seconds:.1f} s")
    assert result["n"] == 10000 and result["accuracy"] >= 0.980
