"""Gradient flow while training (``diagnostics=True`` / ``--diagnostics``): the values on
hand-checkable cases, the metrics.csv columns, resume, and that off means never called."""
import csv
import json

import numpy as np
import pytest

from barenet import nn, optim
from barenet.errors import ConfigError
from barenet.train import Callback, TrainingInterrupted, diagnostics, resume_training, train_model
from barenet.train.diagnostics import GradientFlow, is_column
from barenet.train.resume import METRIC_COLUMNS
from barenet.train.trainer import Trainer
from barenet.train.trainer_state import check_state

TINY = {"limit_train": 300, "limit_test": 50, "epochs": 2, "batch_size": 100, "hidden": 8}
MLP_COLUMNS = ["grad_norm/0.weight", "grad_norm/0.bias", "grad_norm/2.weight",
               "grad_norm/2.bias", "update_ratio/0.weight", "update_ratio/0.bias",
               "update_ratio/2.weight", "update_ratio/2.bias", "dead_relu/1"]


def rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


class InterruptAfterEpoch(Callback):
    """A simulated Ctrl-C once epoch ``epoch`` is complete (and checkpointed)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, record):
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


def tiny_trainer(diagnostics_on, n=8, lr=0.1, momentum=0.0, batch_size=None):
    """Linear(4, 3) -> ReLU -> Linear(3, 2) on n 2x2 'images', one batch per epoch. Hidden unit
    2 has zero weights and bias -1: it can never fire, and stays so (its gradient is 0)."""
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 3, rng=rng), nn.ReLU(), nn.Linear(3, 2, rng=rng))
    w = np.abs(rng.standard_normal((3, 4))).astype(np.float32)
    w[2] = 0
    model[0].weight.data[...] = w
    model[0].bias.data[...] = [0.5, 0.5, -1.0]
    images = rng.integers(0, 256, (n, 2, 2), dtype=np.uint8)
    labels = rng.integers(0, 2, n)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), (images, labels), None,
                      lambda b: b.reshape(len(b), -1).astype(np.float32) / 255, epochs=1,
                      batch_size=batch_size or n, shuffle_rng=np.random.default_rng(1),
                      diagnostics=diagnostics_on)
    return trainer, images, labels


def test_one_step_values_equal_norms_computed_directly():
    trainer, images, labels = tiny_trainer(True)
    model = trainer.model
    before = {k: v.copy() for k, v in model.state_dict().items()}
    # The same step by hand: the batch's mean gradient does not depend on its order.
    x = images.reshape(len(images), -1).astype(np.float32) / 255
    crit = nn.CrossEntropyLoss()
    crit(model(x), labels)
    model.zero_grad()
    model.backward(crit.backward())
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    record = trainer.fit().history[0]
    after = model.state_dict()
    for name in before:
        assert record[f"grad_norm/{name}"] == pytest.approx(np.linalg.norm(grads[name]),
                                                            rel=1e-5)
        delta = np.linalg.norm(after[name] - before[name])
        if np.linalg.norm(before[name]) > 0:
            assert record[f"update_ratio/{name}"] == pytest.approx(
                delta / np.linalg.norm(before[name]), rel=1e-5)
            # plain SGD: the update is lr * g
            assert delta == pytest.approx(0.1 * np.linalg.norm(grads[name]), rel=1e-4)
        else:   # a zero bias: no ratio to give
            assert record[f"update_ratio/{name}"] is None
    assert record["dead_relu/1"] == pytest.approx(1 / 3)


def test_dead_units_are_features_of_vectors_and_sequences_and_channels_of_maps():
    model = nn.Sequential(nn.ReLU())
    flow = GradientFlow(model, None)   # no parameters, no step
    maps = -np.ones((2, 4, 3, 3), np.float32)
    maps[1, 0, 2, 2] = 1.0           # channel 0 fires once, in one image, at one position
    maps[0, 3, 0, 1] = 0.5           # channel 3 too
    with flow:
        model(maps)
        model(-maps[:1])             # a second batch: everything but those two positions fires
    assert flow.columns()["dead_relu/0"] == 0.0
    flow = GradientFlow(model, None)   # no parameters, no step
    with flow:
        model(maps)
    assert flow.columns()["dead_relu/0"] == 0.5   # channels 1 and 2 never fired
    flow = GradientFlow(model, None)   # no parameters, no step
    with flow:
        model(np.array([[1.0, -1.0, 0.0], [2.0, -3.0, 0.0]], np.float32))
    assert flow.columns()["dead_relu/0"] == pytest.approx(2 / 3)   # 0 is not firing
    flow = GradientFlow(model, None)
    sequences = -np.ones((2, 5, 4), np.float32)   # (B, T, F): the units are the F features
    sequences[1, 4, 2] = 1.0
    with flow:
        model(sequences)
    assert flow.columns()["dead_relu/0"] == 0.75
    assert "forward" not in model[0].__dict__   # the watch is gone


def test_watches_are_removed_when_the_epoch_fails():
    trainer, _, _ = tiny_trainer(True)
    relu = trainer.model[1]

    class Boom(Callback):
        def on_batch_end(self, epoch, batch, loss):
            assert "forward" in relu.__dict__   # watched during the epoch
            raise RuntimeError("boom")

    trainer.callbacks.append(Boom())
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit()
    assert "forward" not in relu.__dict__


def test_without_diagnostics_the_module_is_never_called(monkeypatch):
    class Refuse:
        def __init__(self, *args, **kwargs):
            raise AssertionError("diagnostics used while off")

    monkeypatch.setattr(diagnostics, "GradientFlow", Refuse)
    trainer, _, _ = tiny_trainer(False)
    record = trainer.fit().history[0]
    assert not any(is_column(k) for k in record)
    assert "forward" not in trainer.model[1].__dict__
    trainer, _, _ = tiny_trainer(True)   # the same patch does stop a trainer that uses it
    with pytest.raises(AssertionError, match="used while off"):
        trainer.fit()


def test_diagnostics_do_not_change_the_training():
    plain, _, _ = tiny_trainer(False, n=40, momentum=0.9, batch_size=8)
    watched, _, _ = tiny_trainer(True, n=40, momentum=0.9, batch_size=8)
    a, b = plain.fit().history[0], watched.fit().history[0]
    assert a["train_loss"] == b["train_loss"]
    for k, v in plain.model.state_dict().items():
        assert np.array_equal(v, watched.model.state_dict()[k])


def test_columns_in_metrics_csv_only_with_diagnostics(tmp_path, run_dir):
    r = train_model({**TINY, "epochs": 1, "diagnostics": True}, tmp_path / "on", plots=False)
    header = list(rows(tmp_path / "on")[0])
    assert header == METRIC_COLUMNS + MLP_COLUMNS
    row = rows(tmp_path / "on")[0]
    assert all(float(row[c]) >= 0 for c in MLP_COLUMNS)
    assert 1e-6 < float(row["update_ratio/0.weight"]) < 1
    assert r.config["hyperparameters"]["diagnostics"] is True
    assert list(rows(run_dir)[0]) == METRIC_COLUMNS   # conftest's run, diagnostics off
    assert json.loads((run_dir / "config.json").read_text())["hyperparameters"][
        "diagnostics"] is False


def test_resume_keeps_the_columns(tmp_path):
    run = tmp_path / "r"
    with pytest.raises(TrainingInterrupted):
        train_model({**TINY, "diagnostics": True}, run, plots=False,
                    callbacks=[InterruptAfterEpoch(1)])
    assert len(rows(run)) == 1
    r = resume_training(run, plots=False)
    table = rows(run)
    assert len(table) == 2 and list(table[0]) == METRIC_COLUMNS + MLP_COLUMNS
    assert all(row[c] != "" for row in table for c in MLP_COLUMNS)
    assert r.config["hyperparameters"]["diagnostics"] is True


def test_switched_on_at_resume_earlier_epochs_stay_empty_and_training_is_the_same(tmp_path):
    whole = train_model(TINY, None, plots=False)
    run = tmp_path / "r"
    with pytest.raises(TrainingInterrupted):
        train_model(TINY, run, plots=False, callbacks=[InterruptAfterEpoch(1)])
    seen = []
    r = resume_training(run, plots=False, overrides={"diagnostics": True},
                        on_settings=lambda epoch, changed: seen.append(changed))
    assert seen == [{"diagnostics": (False, True)}]
    table = rows(run)
    assert list(table[0]) == METRIC_COLUMNS + MLP_COLUMNS
    assert all(table[0][c] == "" for c in MLP_COLUMNS)
    assert all(table[1][c] != "" for c in MLP_COLUMNS)
    assert r.config["settings_changed"] == [{"after_epoch": 1, "diagnostics": [False, True]}]
    for k, v in whole.model.state_dict().items():
        assert np.array_equal(v, r.model.state_dict()[k]), k


def test_saved_history_rows_accept_only_diagnostics_columns():
    state = {"epoch": 1, "epochs": 1, "best_val_acc": None, "best_epoch": 1,
             "bad_epochs": 0, "stopped_early": False, "finished": True, "generators": {},
             "scheduler": None,
             "history": [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": None,
                          "val_acc": None, "lr": 0.1, "seconds": 1.0,
                          "grad_norm/0.weight": 0.5, "dead_relu/1": None}]}
    check_state(state)
    for key, value in (("evil", 1.0), ("grad_norm/0.weight", -1.0),
                       ("update_ratio/0.weight", "1e-3"), ("grad_norm/../x y", 1.0)):
        bad = {**state, "history": [{**state["history"][0], key: value}]}
        with pytest.raises(ValueError, match="history"):
            check_state(bad)


def test_the_setting_must_be_a_boolean():
    with pytest.raises(ConfigError, match="--diagnostics must be true or false"):
        train_model({**TINY, "diagnostics": "yes"}, None)
