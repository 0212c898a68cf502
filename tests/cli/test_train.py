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
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.data.idx import write_idx
from barenet.train import load_run

QUICK = ["--limit-train", "500", "--limit-test", "200", "--epochs", "2", "--hidden", "16",
         "--batch-size", "50", "--no-plots"]
MNIST = Path(__import__("barenet").__file__).parent / "_data" / "mnist"
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


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


def test_resume_of_a_finished_run_points_to_from(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    line = one_error_line(capsys, main(["train", "--resume", str(out), "--lr", "0.1"]))
    assert "already finished" in line and f"--from {out}" in line
    line = one_error_line(capsys, main(["train", "--resume", str(out)]))
    assert "already finished" in line


@pytest.mark.parametrize("flag", [["--model", "cnn"], ["--hidden", "8"], ["--seed", "3"],
                                  ["--dataset", "fashion-mnist"], ["--val-split", "0.2"],
                                  ["--augment"], ["--limit-train", "400"]])
def test_resume_refuses_settings_that_would_make_another_run(tmp_path, capsys, flag):
    out = tmp_path / "r"
    rc = main(["train", *QUICK, "--lr", "1e6", "--momentum", "0", "--out", str(out), "--quiet"])
    capsys.readouterr()
    assert rc == 1
    line = one_error_line(capsys, main(["train", "--resume", str(out), *flag]))
    assert f"drop {flag[0]}" in line and "--lr" in line   # says what may change


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


def ctrl_c(proc):
    """Send Ctrl-C to a training process, wait for it (killing it if it will not stop);
    return its stderr."""
    try:
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigint_saves_a_resumable_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "r"
    proc = start_long_training(out)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            progress = out / "trainer.json"
            if progress.exists() and json.loads(progress.read_text())["epoch"] >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail("training did not complete two epochs in 60 s")
    finally:
        err = ctrl_c(proc)
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


# -- one run directory, one writer -------------------------------------------------------------

def start_long_training(out):
    """A `barenet train` in another process that is still running once it returns."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "barenet", "train", "--limit-train", "3000", "--hidden", "16",
         "--epochs", "500", "--limit-test", "100", "--no-plots", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    deadline = time.monotonic() + 60
    while not (out / "trainer.json").exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"training did not start: {proc.communicate(timeout=10)}")
        time.sleep(0.05)
    return proc


def test_a_run_being_trained_is_refused_to_a_second_train_and_to_resume(tmp_path, capsys):
    from barenet.train.claim import LOCK

    out = tmp_path / "r"
    proc = start_long_training(out)
    try:
        for argv in (["train", *QUICK, "--out", str(out)], ["train", "--resume", str(out)],
                     ["train", *QUICK, "--out", str(out), "--overwrite"]):
            line = one_error_line(capsys, main(argv))
            assert f"{out}: in use by process {proc.pid}" in line, line
        assert proc.poll() is None          # the first training goes on undisturbed
    finally:
        err = ctrl_c(proc)
    assert proc.returncode == 130, err
    assert not (out / LOCK).exists()        # released on the way out


def test_two_trainings_started_together_into_one_directory(tmp_path):
    out = tmp_path / "r"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "barenet", "train", *QUICK, "--quiet", "--out", str(out)]
    procs = [subprocess.Popen(cmd + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, text=True) for extra in ([], ["--epochs", "3"])]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert sorted(rc for rc, _, _ in results) == [0, 1], results
    (won_out, _), (_, lost_err) = [(o, e) for rc, o, e in sorted(results, key=lambda r: r[0])]
    assert f"saved to {out}" in won_out
    lines = lost_err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"barenet: error: {out}: "), lost_err
    cfg = json.loads((out / "config.json").read_text())
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) - 1 == cfg["hyperparameters"]["epochs"] == cfg["epochs_completed"]
    assert load_run(out).predict(np.zeros((1, 28, 28), np.uint8)).shape == (1,)


# -- dead ends: a crash in the first save, a run that diverged ---------------------------------

def test_a_crash_during_the_first_save_can_be_resumed_or_overwritten(tmp_path, capsys,
                                                                    monkeypatch):
    import barenet.train.api as api

    def disk_full(run_dir, trainer):
        raise OSError(28, "No space left on device")

    out, fresh = tmp_path / "r", tmp_path / "fresh"
    with monkeypatch.context() as m:
        m.setattr(api, "save_training_state", disk_full)
        assert main(["train", *QUICK, "--out", str(out), "--quiet"]) == 1
    capsys.readouterr()
    assert (out / "config.json").exists() and not (out / "resume.npz").exists()
    line = one_error_line(capsys, main(["train", *QUICK, "--out", str(out), "--quiet"]))
    assert f"--resume {out}" in line and "--overwrite" in line
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert main(["train", *QUICK, "--out", str(fresh), "--quiet"]) == 0
    assert load_run(out).model.state_dict().keys() == load_run(fresh).model.state_dict().keys()
    for k, v in load_run(fresh).model.state_dict().items():
        assert np.array_equal(load_run(out).model.state_dict()[k], v), k


def test_overwrite_replaces_a_run_and_keeps_other_files(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--out", str(out), "--quiet"]) == 0
    (out / "notes.txt").write_text("mine")
    (out / "curves.png").write_bytes(b"old figure")
    assert main(["train", *QUICK, "--epochs", "1", "--out", str(out), "--quiet",
                 "--overwrite"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["epochs_completed"] == 1 and len((out / "metrics.csv").read_text().split()) == 2
    assert (out / "notes.txt").read_text() == "mine" and not (out / "curves.png").exists()


def test_a_diverged_run_resumes_with_a_lower_learning_rate(tmp_path, capsys):
    out, fresh = tmp_path / "r", tmp_path / "fresh"
    base = [*QUICK, "--momentum", "0", "--quiet"]
    line = one_error_line(capsys, main(["train", *base, "--lr", "1e6", "--out", str(out)]))
    assert "diverged" in line and f"--resume {out} --lr" in line
    line = one_error_line(capsys, main(["train", "--resume", str(out), "--quiet"]))
    assert "diverged" in line                           # same settings, same divergence
    assert main(["train", "--resume", str(out), "--lr", "0.05", "--quiet"]) == 0
    captured = capsys.readouterr()
    said = [ln for ln in (captured.out + captured.err).splitlines() if "new settings" in ln]
    assert said == [f"resuming {out} after epoch 0 with new settings: lr 1e+06 -> 0.05"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["hyperparameters"]["lr"] == 0.05
    assert cfg["settings_changed"] == [{"after_epoch": 0, "lr": [1e6, 0.05]}]
    # resumed at epoch 0 with new settings = a fresh run with them, bit for bit
    assert main(["train", *base, "--lr", "0.05", "--out", str(fresh)]) == 0
    a, b = load_run(out).model.state_dict(), load_run(fresh).model.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in b)


def test_resume_with_more_epochs_continues_the_run(tmp_path, capsys):
    out = tmp_path / "r"
    rc = main(["train", *QUICK, "--lr", "1e6", "--momentum", "0", "--out", str(out), "--quiet"])
    assert rc == 1
    assert main(["train", "--resume", str(out), "--lr", "0.05", "--epochs", "3",
                 "--quiet"]) == 0
    assert "epochs 2 -> 3" in capsys.readouterr().err
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["epochs_completed"] == 3 and cfg["hyperparameters"]["epochs"] == 3


# -- memory ------------------------------------------------------------------------------------

def test_a_batch_size_that_cannot_fit_is_refused_before_anything(tmp_path, capsys, monkeypatch):
    from barenet.train import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 4 << 30)
    out = tmp_path / "r"
    start = time.perf_counter()
    line = one_error_line(capsys, main(["train", "--model", "cnn", "--batch-size", "60000",
                                        "--epochs", "1", "--out", str(out)]))
    assert time.perf_counter() - start < 5
    assert "--batch-size 60000" in line and "GB" in line and "use --batch-size" in line
    assert not out.exists()


# -- fine-tuning a finished run ---------------------------------------------------------------

def test_from_starts_a_new_run_from_a_finished_runs_best_weights(tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["train", *QUICK, "--out", str(first), "--quiet"]) == 0
    assert main(["train", "--from", str(first), "--out", str(second), "--epochs", "1",
                 "--lr", "1e-9", "--momentum", "0", "--limit-test", "200", "--no-plots",
                 "--quiet"]) == 0
    a, b = json.loads((first / "config.json").read_text()), \
        json.loads((second / "config.json").read_text())
    assert b["architecture"] == a["architecture"] and b["dataset"] == a["dataset"]
    assert b["from"]["run"] == str(first.resolve()) and b["from"]["epoch"] == a["best_epoch"]
    assert b["hyperparameters"]["lr"] == 1e-9 and b["hyperparameters"]["epochs"] == 1
    assert b["hyperparameters"]["batch_size"] == a["hyperparameters"]["batch_size"]
    wa, wb = load_run(first).model.state_dict(), load_run(second).model.state_dict()
    assert all(np.allclose(wa[k], wb[k], atol=1e-6) for k in wa)   # it started from them
    assert abs(b["test_accuracy"] - a["test_accuracy"]) < 0.011
    line = one_error_line(capsys, main(["train", "--from", str(first), "--model", "cnn",
                                        "--out", str(tmp_path / "x")]))
    assert "--from" in line and "drop --model" in line
    assert not (tmp_path / "x").exists()
    line = one_error_line(capsys, main(["train", "--from", str(tmp_path / "none"),
                                        "--out", str(tmp_path / "x")]))
    assert "none: no such run directory" in line


def test_two_trainings_with_the_default_out_get_a_directory_each(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "barenet", "train", *QUICK, "--quiet"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=env, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [rc for rc, _, _ in results] == [0, 0], results
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all((r / "config.json").exists() for r in runs)


def test_an_error_about_a_huge_value_stays_one_short_line(tmp_path, capsys):
    """A config whose value is enormous (200,000 widths) is refused in one short line."""
    from barenet.cli.main import main
    config = tmp_path / "huge.json"
    config.write_text(json.dumps({"model": {"name": "mlp", "hidden": [1] * 200_000}}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 1200, len(err)
    assert "hidden" in err and not (tmp_path / "run").exists()
