"""Gradient clipping in the training loop (``clip_grad_norm`` / ``--clip-grad-norm``): where it
acts, what it records with diagnostics, config.json, resume, divergence and bad values."""
import csv
import json

import numpy as np
import pytest

from barenet import nn, optim
from barenet.errors import ConfigError, TrainingDiverged
from barenet.train import Callback, TrainingInterrupted, resume_training, train_model
from barenet.train.clipping import GradientClip
from barenet.train.diagnostics import CLIP_COLUMNS, is_column
from barenet.train.resume import METRIC_COLUMNS
from barenet.train.trainer import Trainer
from barenet.train.trainer_state import check_state

TINY = {"limit_train": 300, "limit_test": 50, "epochs": 2, "batch_size": 100, "hidden": 8}


def rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def weights_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


class InterruptAfterEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, record):
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


class Seen(Callback):
    """Keeps the trainer it was started with."""

    def on_train_begin(self, trainer):
        self.trainer = trainer


def one_batch_trainer(clip, criterion=None, lr=0.1):
    """Linear(4, 3) on 8 random 2x2 'images', one batch per epoch, plain SGD (the update is
    exactly -lr * g)."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 3, rng=rng))
    images = rng.integers(0, 256, (8, 2, 2), dtype=np.uint8)
    labels = rng.integers(0, 3, 8)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.0)
    return Trainer(model, opt, criterion or nn.CrossEntropyLoss(), (images, labels), None,
                   lambda b: b.reshape(len(b), -1).astype(np.float32) / 255, epochs=1,
                   batch_size=8, shuffle_rng=np.random.default_rng(1), diagnostics=True,
                   clip_grad_norm=clip)


def test_the_step_is_the_clipped_gradient():
    plain, clipped = one_batch_trainer(None), one_batch_trainer(0.01)
    before = plain.model.state_dict()
    plain.fit()
    record = clipped.fit().history[0]
    g = {k: (before[k] - v) / 0.1 for k, v in plain.model.state_dict().items()}   # = grad
    total = np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in g.values()))
    assert total > 0.01 and record["clip/total_norm"] == pytest.approx(total, rel=1e-4)
    assert record["clip/fraction_clipped"] == 1.0 and record["clip/max_norm"] == 0.01
    step = {k: before[k] - v for k, v in clipped.model.state_dict().items()}
    length = np.sqrt(sum(np.sum(v.astype(np.float64) ** 2) for v in step.values()))
    assert length == pytest.approx(0.1 * 0.01, rel=1e-4)                 # lr * max_norm
    for k in g:                                                         # the same direction
        np.testing.assert_allclose(step[k], 0.1 * g[k] * 0.01 / total, rtol=2e-3, atol=1e-9)
    assert record["grad_norm/0.weight"] < 0.01                          # what the step saw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_step_counts_as_clipped_exactly_when_its_norm_is_above_the_threshold(dtype):
    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.ReLU(), nn.Linear(2, 2, rng=1)).astype(dtype)
    grads = [np.random.default_rng(i).standard_normal(p.shape).astype(dtype)
             for i, p in enumerate(model.parameters())]
    total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))
    clip = GradientClip(model, total * (1 + 1e-3))   # above: untouched, not counted
    for p, g in zip(model.parameters(), grads):
        p.grad = g.copy()
    assert clip() and all(np.array_equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    clip.max_norm = total * (1 - 1e-3)                  # just below: scaled to it, counted
    assert clip()
    after = np.sqrt(sum(np.sum(p.grad.astype(np.float64) ** 2) for p in model.parameters()))
    assert after == pytest.approx(total * (1 - 1e-3), rel=1e-5)
    model[2].bias.grad = None                           # a parameter without a gradient
    rest = np.sqrt(sum(np.sum(p.grad.astype(np.float64) ** 2) for p in model.parameters()
                       if p.grad is not None))
    assert clip() and clip.last == pytest.approx(rest, rel=1e-5) and rest < clip.max_norm
    columns = clip.columns()
    assert clip.steps == 3 and columns["clip/fraction_clipped"] == pytest.approx(1 / 3)
    assert columns["clip/total_norm"] == pytest.approx((2 * total + clip.last) / 3, rel=1e-5)
    assert columns["clip/max_norm"] == clip.max_norm
    assert GradientClip(model, 1.0).columns()["clip/total_norm"] is None   # no step yet


def test_fraction_is_one_for_a_tiny_threshold_and_zero_for_a_huge_one(tmp_path):
    tiny = train_model({**TINY, "diagnostics": True, "clip_grad_norm": 1e-4}, tmp_path / "t",
                       plots=False)
    huge = train_model({**TINY, "diagnostics": True, "clip_grad_norm": 1e6}, tmp_path / "h",
                       plots=False)
    plain = train_model(TINY, None, plots=False)
    for r, fraction, threshold in ((tiny, 1.0, 1e-4), (huge, 0.0, 1e6)):
        table = rows(r.run_dir)
        assert list(table[0])[-3:] == list(CLIP_COLUMNS)
        for row in table:
            assert float(row["clip/fraction_clipped"]) == fraction
            assert float(row["clip/max_norm"]) == threshold
            assert 1e-3 < float(row["clip/total_norm"]) < 1e3
        assert r.config["hyperparameters"]["clip_grad_norm"] == threshold
    first = [float(rows(r.run_dir)[0]["clip/total_norm"]) for r in (tiny, huge)]
    assert first[0] != first[1]      # the first epoch's first step agrees, the rest do not
    assert not weights_equal(tiny.model, plain.model)       # clipping changed the training
    assert weights_equal(huge.model, plain.model)           # never clipped: bit for bit
    assert tiny.history[-1]["train_loss"] > plain.history[-1]["train_loss"]   # tiny steps


def test_recorded_only_with_diagnostics_and_only_when_clipping(tmp_path):
    r = train_model({**TINY, "epochs": 1, "clip_grad_norm": 0.5}, tmp_path / "r", plots=False)
    assert list(rows(tmp_path / "r")[0]) == METRIC_COLUMNS
    assert not any(is_column(k) for k in r.history[0])
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["hyperparameters"]["clip_grad_norm"] == 0.5
    r = train_model({**TINY, "epochs": 1, "diagnostics": True}, None, plots=False)
    assert not any(k.startswith("clip/") for k in r.history[0])
    assert r.config["hyperparameters"]["clip_grad_norm"] is None


def test_the_setting_reaches_the_trainer_and_resume_keeps_it(tmp_path):
    whole = train_model({**TINY, "clip_grad_norm": 0.3}, None, plots=False)
    run, seen = tmp_path / "r", Seen()
    with pytest.raises(TrainingInterrupted):
        train_model({**TINY, "clip_grad_norm": 0.3}, run, plots=False,
                    callbacks=[seen, InterruptAfterEpoch(1)])
    assert seen.trainer.clip_grad_norm == 0.3
    seen = Seen()
    r = resume_training(run, plots=False, callbacks=[seen])
    assert seen.trainer.clip_grad_norm == 0.3
    assert r.config["hyperparameters"]["clip_grad_norm"] == 0.3
    assert "settings_changed" not in r.config
    assert weights_equal(r.model, whole.model)   # as if never interrupted


@pytest.mark.parametrize("old, new, shown", [(None, 0.2, 0.2), (0.2, 0.5, 0.5),
                                             (0.2, "off", None)])
def test_a_resume_may_change_it_and_records_the_change(tmp_path, old, new, shown):
    run = tmp_path / "r"
    with pytest.raises(TrainingInterrupted):
        train_model({**TINY, "clip_grad_norm": old, "diagnostics": True}, run, plots=False,
                    callbacks=[InterruptAfterEpoch(1)])
    heard = []
    r = resume_training(run, plots=False, overrides={"clip_grad_norm": new},
                        on_settings=lambda epoch, changed: heard.append((epoch, changed)))
    assert heard == [(1, {"clip_grad_norm": (old, shown)})]
    assert r.config["hyperparameters"]["clip_grad_norm"] == shown
    assert r.config["settings_changed"] == [{"after_epoch": 1, "clip_grad_norm": [old, shown]}]
    table = rows(run)
    for row, threshold in zip(table, (old, shown)):
        assert row.get("clip/max_norm", "") == ("" if threshold is None else str(threshold))


def test_a_threshold_that_never_clips_resumes_bit_for_bit(tmp_path):
    """Switching clipping on at a resume changes nothing else (optimizer and schedule go on
    from their saved state): with a threshold never reached the run is the uninterrupted one."""
    whole = train_model({**TINY, "optimizer": "adam"}, None, plots=False)
    run = tmp_path / "r"
    with pytest.raises(TrainingInterrupted):
        train_model({**TINY, "optimizer": "adam"}, run, plots=False,
                    callbacks=[InterruptAfterEpoch(1)])
    r = resume_training(run, plots=False, overrides={"clip_grad_norm": 1e9})
    assert weights_equal(r.model, whole.model)


def test_a_non_finite_gradient_norm_stops_training_before_the_step():
    class InfiniteGradient(nn.CrossEntropyLoss):
        def backward(self):
            g = super().backward()
            g[0, 0] = np.inf
            return g

    trainer = one_batch_trainer(1.0, criterion=InfiniteGradient())
    before = trainer.model.state_dict()
    with pytest.raises(TrainingDiverged, match="gradient norm became inf at epoch 1, batch 1 "
                                               "of 1 .*lower --lr"):
        trainer.fit()
    after = trainer.model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)   # no step was taken


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), "abc", True, [1],
                                   10**400], ids=lambda v: repr(v)[:12])
def test_bad_values_are_refused_in_one_line(value):
    with pytest.raises(ConfigError, match=r"^--clip-grad-norm must be a number > 0 \(or off\), "
                                          r"got .{1,45}$"):
        train_model({**TINY, "clip_grad_norm": value}, None)
    with pytest.raises(ValueError, match="clip_grad_norm must be a number > 0"):
        one_batch_trainer(value if not isinstance(value, (str, list)) else -1)


def test_saved_history_rows_accept_the_clip_columns_only():
    state = {"epoch": 1, "epochs": 1, "best_val_acc": None, "best_epoch": 1,
             "bad_epochs": 0, "stopped_early": False, "finished": True, "generators": {},
             "scheduler": None,
             "history": [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": None,
                          "val_acc": None, "lr": 0.1, "seconds": 1.0, "clip/max_norm": 1.0,
                          "clip/total_norm": 2.5, "clip/fraction_clipped": None}]}
    check_state(state)
    for key, value in (("clip/other", 1.0), ("clip/total_norm", -1.0), ("clip/", 1.0),
                       ("clip/fraction_clipped", "1")):
        bad = {**state, "history": [{**state["history"][0], key: value}]}
        with pytest.raises(ValueError, match="history"):
            check_state(bad)


def test_the_figure_gets_a_clipping_panel(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from barenet import plots_gradient_flow as pgf

    history = [{"epoch": 1, "grad_norm/0.weight": 0.5, "update_ratio/0.weight": 1e-3},
               {"epoch": 2, "grad_norm/0.weight": 0.4, "update_ratio/0.weight": 2e-3,
                "clip/max_norm": 1.0, "clip/total_norm": 3.0, "clip/fraction_clipped": 0.75}]
    plain = [{k: v for k, v in h.items() if not k.startswith("clip/")} for h in history]
    assert pgf.clip_series(plain) is None
    clip = pgf.clip_series(history)
    np.testing.assert_array_equal(clip["fraction_clipped"], [np.nan, 0.75])
    np.testing.assert_array_equal(clip["max_norm"], [np.nan, 1.0])
    figures = []
    monkeypatch.setattr(pgf, "save_figure", lambda fig, path: figures.append(fig) or path)
    pgf.plot_gradient_flow(plain, tmp_path / "a.png")
    pgf.plot_gradient_flow(history, tmp_path / "b.png")
    assert [len(f.axes) for f in figures] == [3, 5]        # 4 panels, one with a 2nd y axis
    panel = figures[1].axes[3]
    assert "clipping" in panel.get_title()
    labels = panel.get_legend_handles_labels()[1]
    assert "clip threshold" in labels and "||g|| before clipping (mean)" in labels
