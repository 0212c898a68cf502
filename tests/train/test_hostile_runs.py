"""Run directories written to hurt: memory asked of by a description, normalisation that
overflows float32, weights that do not fit checked before anything is built, strings with
terminal escapes, and folders that loop or hold huge files."""
from __future__ import annotations

import json
import os
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from barenet import nn, save_run
from barenet.data.transforms import Normalize
from barenet.errors import CheckpointError, ConfigError
from barenet.nn.architecture import describe
from barenet.nn.step_memory import eval_bytes_per_sample
from barenet.train import memory
from barenet.train.checkpoint import load_run
from barenet.train.evaluate import evaluate_run
from barenet.train.listing import list_runs


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text and len(text) < 600, text
    return text


def _wide_conv():
    """15k parameters, but 5000 channels of 28x28 activations per sample (~16 MB each)."""
    return nn.Sequential(nn.Conv2d(1, 5000, 1), nn.ReLU(), nn.Conv2d(5000, 1, 1), nn.Flatten(),
                         nn.Linear(784, 10))


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("wide") / "run"
    save_run(out, _wide_conv())
    return out


def _edit(run_dir, **changes):
    cfg = json.loads((run_dir / "config.json").read_text())
    cfg.update(changes)
    (run_dir / "config.json").write_text(json.dumps(cfg))


# -- 4: activation memory ---------------------------------------------------------------------

def test_a_run_whose_batch_of_one_cannot_fit_is_refused_in_one_line(wide_run, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda *a, **k: 8 << 20)
    with pytest.raises(CheckpointError) as exc:
        load_run(wide_run)
    text = _one_line(exc)
    assert "memory" in text and "per sample" in text


def test_evaluate_picks_a_batch_that_fits(wide_run, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda *a, **k: 400 << 20)
    run = load_run(wide_run)
    per_sample = eval_bytes_per_sample(run.config["architecture"], run.input_shape)
    seen = []

    def forward(x):
        seen.append(len(x))
        return np.zeros((len(x), 10), np.float32)

    monkeypatch.setattr(run.model, "forward", forward)
    data = SimpleNamespace(images=np.zeros((300, 28, 28), np.uint8),
                           labels=np.zeros(300, np.int64), classes=run.classes, name="mnist")
    result = evaluate_run(run, data)
    assert result["n"] == 300 and sum(seen) == 300
    assert max(seen) * per_sample <= 400 << 20, (seen, per_sample)
    assert max(run.batch_size(), 1) * per_sample <= 400 << 20


# -- 5: normalisation that overflows float32 --------------------------------------------------

@pytest.mark.parametrize("mean, std", [(0.0, 1e-45), (1e308, 1.0), (0.5, 1e-9),
                                       (1e38, 1e-3)])
def test_normalize_refuses_values_that_overflow_float32(mean, std):
    with pytest.raises(ConfigError):
        Normalize(mean, std)


def test_a_run_with_overflowing_normalisation_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    save_run(run_dir, nn.Sequential(nn.Linear(784, 10)))
    _edit(run_dir, preprocessing={"name": "normalize", "mean": 1e308, "std": 1e-45,
                                  "flatten": True})
    with pytest.raises(CheckpointError) as exc:
        load_run(run_dir)
    assert "std" in _one_line(exc) or "mean" in str(exc.value)


# -- 6: weights checked before the model is built ---------------------------------------------

def test_mismatched_weights_are_refused_before_the_model_is_built(tmp_path):
    run_dir = tmp_path / "run"
    save_run(run_dir, nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 10)))
    arch = describe(nn.Sequential(nn.Linear(784, 2), nn.ReLU(), nn.Linear(2, 10)))
    arch["layers"][0]["args"]["out_features"] = 62000
    arch["layers"][2]["args"]["in_features"] = 62000
    _edit(run_dir, architecture=arch)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as exc:
            load_run(run_dir)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "weights.npz" in _one_line(exc)
    assert peak < 50 << 20, f"peak {peak / 1e6:.0f} MB"


# -- 7: strings from a run are escaped and cut -------------------------------------------------

def test_listing_cuts_long_strings(tmp_path):
    run_dir = tmp_path / "R" / "run"
    save_run(run_dir, nn.Sequential(nn.Linear(784, 10)))
    _edit(run_dir, dataset="x" * 100_000, created="\x1b[2J" * 10_000)
    (row,), _ = list_runs(tmp_path / "R")
    assert len(row["dataset"]) <= 200 and len(row["created"]) <= 200


def test_a_huge_class_name_is_refused_at_load(tmp_path):
    run_dir = tmp_path / "run"
    save_run(run_dir, nn.Sequential(nn.Linear(784, 2)), classes=["a", "b"])
    _edit(run_dir, classes=["a", "b" * 100_000])
    with pytest.raises(CheckpointError) as exc:
        load_run(run_dir)
    _one_line(exc)


def test_checkpoint_errors_cut_what_they_quote(tmp_path):
    run_dir = tmp_path / "run"
    save_run(run_dir, nn.Sequential(nn.Linear(784, 10)))
    _edit(run_dir, dataset=["\x1b[2J" * 50_000])
    with pytest.raises(CheckpointError) as exc:
        load_run(run_dir)
    assert "\x1b" not in _one_line(exc)


# -- 8: listing a folder that loops or holds huge files ----------------------------------------

def test_a_symlink_loop_is_one_unreadable_row_and_the_rest_are_listed(tmp_path):
    root = tmp_path / "R"
    save_run(root / "good", nn.Sequential(nn.Linear(784, 10)))
    os.symlink("self", root / "self")
    runs, _ = list_runs(root)
    by_name = {r["name"]: r for r in runs}
    assert by_name["good"]["status"] == "saved"
    assert by_name["self"]["status"] == "unreadable" and by_name["self"]["error"]


def test_many_links_to_a_huge_config_are_listed_quickly_and_in_little_memory(tmp_path):
    root = tmp_path / "R"
    save_run(root / "big", nn.Sequential(nn.Linear(784, 10)))
    cfg = json.loads((root / "big" / "config.json").read_text())
    cfg["padding"] = "x" * (40 << 20)
    (root / "big" / "config.json").write_text(json.dumps(cfg))
    for i in range(100):
        os.symlink("big", root / f"link{i:03d}")
    tracemalloc.start()
    try:
        runs, _ = list_runs(root)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(runs) == 101
    assert peak < 20 << 20, f"peak {peak / 1e6:.0f} MB"
