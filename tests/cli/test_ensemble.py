"""``--ensemble`` and ``--tta`` for real: evaluate, predict and serve a committee of runs on
small data, its numbers against the members' own probabilities averaged by hand, the JSON
schema, and every mix-up refused in one line naming the runs."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from error_checks import one_error_line
from idx_folders import LETTERS, write_idx_folder

from barenet import nn, save_run
from barenet.cli.evaluate import COMMITTEE_KEYS
from barenet.cli.main import main
from barenet.committee import SHIFTS, shift_images
from barenet.data.datasets import load_dataset
from barenet.nn.functional import softmax
from barenet.train import train_model
from barenet.train.checkpoint import load_run

N = 300   # test images evaluated


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two small MLPs of MNIST, different widths and seeds."""
    root = tmp_path_factory.mktemp("ensemble")
    for name, hidden, seed in (("a", 32, 0), ("b", 16, 1)):
        train_model({"limit_train": 800, "limit_test": N, "epochs": 1, "hidden": hidden,
                     "batch_size": 50, "seed": seed}, root / name, plots=False)
    return str(root / "a"), str(root / "b")


@pytest.fixture(scope="module")
def test_set():
    return load_dataset("mnist", "test")


def mean_proba(paths, images: np.ndarray, tta: int = 1) -> np.ndarray:
    """The committee's probabilities by hand: the mean of each run's float64 softmax of its
    logits for each view."""
    loaded = [load_run(p) for p in paths]
    return np.mean([softmax(r.logits(shift_images(images, *s)).astype(np.float64), axis=1)
                    for r in loaded for s in SHIFTS[:tta]], axis=0)


def evaluate_json(capsys, *argv: str) -> dict:
    assert main(["evaluate", *argv, "--json", "--limit", str(N)]) == 0
    return json.loads(capsys.readouterr().out)


# ---- evaluate -------------------------------------------------------------------------------

def test_evaluate_committee_json_is_the_mean_of_the_members(runs, test_set, capsys):
    doc = evaluate_json(capsys, *runs, "--ensemble")
    assert set(doc) == set(COMMITTEE_KEYS)
    labels = test_set.labels[:N]
    mean = mean_proba(runs, test_set.images[:N])
    assert doc["accuracy"] == pytest.approx(np.mean(mean.argmax(axis=1) == labels), abs=1e-12)
    assert doc["loss"] == pytest.approx(-np.mean(np.log(mean[np.arange(N), labels])), rel=1e-5)
    assert np.trace(doc["confusion_matrix"]) == round(doc["accuracy"] * N)
    assert doc["n"] == N and doc["dataset"] == "mnist" and doc["split"] == "test"
    assert doc["runs"] == list(runs) and doc["tta"] == 1 and doc["shifts"] == [[0, 0]]
    assert [set(m) for m in doc["members"]] == \
        [{"run", "accuracy", "loss", "accuracy_tta", "loss_tta"}] * 2
    for member, path in zip(doc["members"], runs):
        alone = evaluate_json(capsys, path, "--no-plots")
        assert member["run"] == path and member["accuracy"] == alone["accuracy"]
        assert member["loss"] == pytest.approx(alone["loss"], rel=1e-5)
        assert member["accuracy_tta"] == member["accuracy"]
    best = max(doc["members"], key=lambda m: m["accuracy"])
    assert doc["best_member"] == best["run"]
    assert doc["gain"] == pytest.approx(doc["accuracy"] - best["accuracy"])
    assert doc["without_tta"] == {"accuracy": doc["accuracy"], "loss": doc["loss"]}


def test_both_ways_of_naming_a_committee_agree(runs, capsys):
    together = evaluate_json(capsys, *runs, "--ensemble")
    added = evaluate_json(capsys, runs[0], "--ensemble", runs[1])
    assert added == together
    assert evaluate_json(capsys, "--ensemble", runs[1], runs[0])["accuracy"] == \
        together["accuracy"]


def test_evaluate_committee_tables(runs, capsys):
    assert main(["evaluate", *runs, "--ensemble", "--tta", "3", "--limit", str(N)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("committee 2 runs, the mean of their softmax probabilities")
    assert "views     3 per picture" in out and "with 3 views" in out
    assert re.search(r"^committee\s+\d+\.\d\d%\s+\d+\.\d\d%$", out, re.M)
    for path in runs:
        assert re.search(rf"^{re.escape(path)}\s+mlp\s+\d+\.\d\d%\s+\d+\.\d\d%$", out, re.M)
    assert "gain" in out and "over the best run alone" in out and "confusion matrix" in out


def test_tta_one_is_no_tta_and_tta_averages_the_documented_views(runs, test_set, capsys):
    plain = evaluate_json(capsys, runs[0], "--no-plots")
    one = evaluate_json(capsys, runs[0], "--tta", "1", "--no-plots")
    assert one == plain                                  # --tta 1: the plain evaluation
    five = evaluate_json(capsys, runs[0], "--tta", "5")
    assert five["run"] == runs[0] and five["tta"] == 5
    assert five["shifts"] == [[0, 0], [0, 1], [0, -1], [1, 0], [-1, 0]]
    mean = mean_proba(runs[:1], test_set.images[:N], tta=5)
    assert five["accuracy"] == pytest.approx(np.mean(mean.argmax(axis=1) ==
                                                     test_set.labels[:N]), abs=1e-12)
    assert five["without_tta"]["accuracy"] == plain["accuracy"]
    assert five["gain"] == pytest.approx(five["accuracy"] - plain["accuracy"])


def test_several_runs_without_ensemble_are_refused_with_the_command_to_type(runs, capsys):
    line = one_error_line(capsys, main(["evaluate", *runs]), stdout_empty=True)
    assert f"add --ensemble: barenet evaluate {runs[0]} {runs[1]} --ensemble" in line
    line = one_error_line(capsys, main(["evaluate", runs[0], "--ensemble"]))
    assert "--ensemble needs a second run" in line
    line = one_error_line(capsys, main(["evaluate", runs[0], runs[0], "--ensemble"]))
    assert "given twice" in line
    line = one_error_line(capsys, main(["evaluate", *runs, "--ensemble", "--split", "val"]))
    assert "--split val" in line and "use --split test or train" in line
    line = one_error_line(capsys, main(["evaluate", runs[0], "--tta", "10"]))
    assert "--tta must be an integer in 1..9" in line


@pytest.fixture(scope="module")
def strangers(runs, tmp_path_factory):
    """Runs that cannot join ``runs``' committee: another dataset, other class names; and
    folder runs of one name "Letters": 16x16 and 20x20 pictures, and other 16x16 data."""
    root = tmp_path_factory.mktemp("strangers")
    model = nn.Sequential(nn.Linear(784, 10))
    out = {"dataset": save_run(root / "fashion", model, dataset="fashion-mnist"),
           "classes": save_run(root / "words", model, classes=[f"c{i}" for i in range(10)])}
    for name, side, seed in (("letters16", 16, 0), ("letters20", 20, 0), ("other16", 16, 5)):
        folder = write_idx_folder(root / name / "Letters", side=side, names=LETTERS, seed=seed,
                                  n_train=104, n_test=52)
        assert main(["train", "--dataset", str(folder), "--epochs", "1", "--batch-size", "32",
                     "--quiet", "--no-plots", "--out", str(root / f"run-{name}")]) == 0
        out[name] = root / f"run-{name}"
    return {k: str(v) for k, v in out.items()}


@pytest.mark.parametrize("first, second, words", [
    ("a", "dataset", "trained on different datasets (mnist vs fashion-mnist)"),
    ("a", "classes", "different classes (class 0 is 0 vs c0)"),
    ("letters16", "letters20", "different input sizes (16x16 vs 20x20 pictures)"),
    ("letters16", "other16", "trained on different data under one name Letters"),
])
def test_runs_that_do_not_fit_together_are_refused_in_one_line(runs, strangers, capsys, first,
                                                               second, words):
    paths = {"a": runs[0], **strangers}
    for command in (["evaluate", paths[first], paths[second], "--ensemble"],
                    ["predict", paths[first], "--ensemble", paths[second], "--index", "0"],
                    ["serve", paths[first], "--ensemble", paths[second], "--port", "0"]):
        line = one_error_line(capsys, main(command), stdout_empty=True)
        assert f"{paths[first]} and {paths[second]}: {words}" in line


def test_folder_runs_of_the_same_data_make_a_committee(strangers, capsys):
    """The same folder twice (two runs trained on it) passes the checksum check."""
    again = strangers["letters16"] + "-again"
    folder = load_run(strangers["letters16"]).config["data_dir"]
    assert main(["train", "--dataset", folder, "--epochs", "1",
                 "--seed", "3", "--quiet", "--no-plots", "--out", again]) == 0
    capsys.readouterr()
    assert main(["evaluate", strangers["letters16"], "--ensemble", again, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dataset"] == "Letters" and doc["n"] == 52 and len(doc["members"]) == 2


# ---- predict --------------------------------------------------------------------------------

def test_predict_with_a_committee_averages_the_members(runs, test_set, capsys):
    assert main(["predict", runs[0], "--ensemble", runs[1], "--index", "0", "1", "2",
                 "--json", "--tta", "3"]) == 0
    doc = json.loads(capsys.readouterr().out)
    mean = mean_proba(runs, test_set.images[:3], tta=3)
    for i, item in enumerate(doc):
        np.testing.assert_allclose(list(item["probabilities"].values()), mean[i], atol=2e-6)
        assert item["prediction_index"] == int(mean[i].argmax()) and item["tta"] == 3
        assert [m["run"] for m in item["members"]] == list(runs)
        for m, path in zip(item["members"], runs):
            own = mean_proba([path], test_set.images[i:i + 1], tta=3)[0]
            assert m["prediction_index"] == int(own.argmax())
            assert m["confidence"] == pytest.approx(own.max(), abs=2e-6)
    assert main(["predict", runs[0], "--index", "0", "--ensemble", runs[1]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("test[0] (label 7): ") and out[1].startswith("  members: ")
    assert runs[0] in out[1] and runs[1] in out[1]


def test_predict_mixups_are_one_line_with_a_hint(runs, capsys):
    line = one_error_line(capsys, main(["predict", runs[0], runs[1], "--index", "0"]),
                          stdout_empty=True)
    assert f"{runs[1]} is a run, not a picture" in line
    assert f"barenet predict {runs[0]} --ensemble {runs[1]} PICTURE..." in line
    config = os.path.join(runs[1], "config.json")
    line = one_error_line(capsys, main(["predict", runs[0], "--ensemble", config, "--index", "0"]))
    assert "a file, not a run directory" in line


# ---- serve ----------------------------------------------------------------------------------

def test_serve_answers_with_the_committee(runs, test_set):
    proc = subprocess.Popen([sys.executable, "-m", "barenet", "serve", *runs, "--ensemble",
                             "--port", "0", "--tta", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert f"{runs[0]} + {runs[1]} (a committee" in line and "2 views per prediction" in line
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        info = json.load(urllib.request.urlopen(url + "api/model", timeout=20))
        assert info["committee"]["runs"] == ["a", "b"] and info["tta"] == 2
        assert "layers, weights, why and teach show a" in info["run"]
        body = json.dumps({"pixels": test_set.images[0].reshape(-1).tolist()}).encode()
        request = urllib.request.Request(url + "api/predict", body,
                                         {"Content-Type": "application/json"})
        doc = json.load(urllib.request.urlopen(request, timeout=20))
        mean = mean_proba(runs, test_set.images[:1], tta=2)[0]
        np.testing.assert_allclose(doc["probabilities"], mean, atol=2e-6)
        assert doc["prediction"] == int(mean.argmax()) and doc["activations"]
        assert [m["run"] for m in doc["committee"]["members"]] == ["a", "b"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0
