"""The learning-rate range test (``barenet.tune.lr_find``): its schedule, smoothing, stopping
rule and suggestion, and that the model and optimizer come back bit for bit."""
from __future__ import annotations

import copy
import json
import math
import sys

import numpy as np
import pytest

from barenet import nn, optim
from barenet.data.datasets import Dataset
from barenet.errors import ConfigError
from barenet.nn.init import find_generators
from barenet.tune import lr_find
from barenet.tune.lr_find import RULES, check_range, lr_schedule, smooth, suggest

LR_FIND = sys.modules["barenet.tune.lr_find"]   # the module (the package exports the function)


def _data(n=96, features=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    y = (x[:, :classes].argmax(axis=1)).astype(np.int64)   # learnable labels
    return x, y


def _net(seed=0, features=12, classes=4, dropout=0.2):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(features, 16, rng=rng), nn.BatchNorm1d(16), nn.ReLU(),
                         nn.Dropout(dropout, rng=rng), nn.Linear(16, classes, rng=rng))


def _train_steps(model, opt, data, steps, seed=1):
    """A few ordinary training steps (the state lr_find must give back)."""
    x, y = data
    crit = nn.CrossEntropyLoss()
    order = np.random.default_rng(seed).permutation(len(y))
    model.train()
    for i in range(steps):
        idx = order[(i * 16) % len(y):(i * 16) % len(y) + 16]
        crit(model(x[idx]), y[idx])
        opt.zero_grad()
        model.backward(crit.backward())
        opt.step()


def _bits(a) -> tuple:
    a = np.asarray(a)
    return (a.dtype.str, a.shape, a.tobytes())


def _fingerprint(model, opt) -> dict:
    """Everything of a model and its optimizer, as exact bytes."""
    return {"weights": {k: _bits(v) for k, v in model.state_dict().items()},
            "grads": {k: None if p.grad is None else _bits(p.grad)
                      for k, p in model.named_parameters()},
            "modes": [m.training for m in model.modules()],
            "generators": json.dumps({k: g.bit_generator.state for k, g in
                                      find_generators({"m": model}).items()}, default=str),
            "groups": [{k: v for k, v in g.items() if k != "params"}
                       for g in opt.param_groups],
            "opt": {i: {k: _bits(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                    for i, s in opt.state_dict()["state"].items()}}


# --- the schedule and the smoothing --------------------------------------------------------

def test_the_schedule_grows_by_a_constant_factor_from_start_to_end():
    lrs = lr_schedule(1e-7, 10.0, 301)
    assert lrs[0] == 1e-7 and math.isclose(lrs[-1], 10.0, rel_tol=1e-12)
    ratios = lrs[1:] / lrs[:-1]
    np.testing.assert_allclose(ratios, (10.0 / 1e-7) ** (1 / 300), rtol=1e-12)
    assert math.isclose(lrs[150], math.sqrt(1e-7 * 10.0), rel_tol=1e-12)   # geometric middle


def test_the_rates_the_optimizer_steps_with_are_the_schedule():
    seen = []

    class Spy(optim.SGD):
        def step(self, closure=None):
            seen.append([g["lr"] for g in self.param_groups])
            return super().step(closure)

    model = _net()
    opt = Spy([{"params": model[0].parameters()}, {"params": model[1].parameters()},
               {"params": model[4].parameters(), "lr": 0.5}], lr=0.1, momentum=0.9)
    res = lr_find(model, _data(), opt, start_lr=1e-4, end_lr=1.0, num_batches=30,
                  diverge=1e9, batch_size=16)
    want = lr_schedule(1e-4, 1.0, 30)
    assert len(res.lrs) == 30 and np.array_equal(res.lrs, want)
    assert np.array_equal(np.array(seen), np.repeat(want[:, None], 3, axis=1))   # every group
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1, 0.5]                  # given back


def test_smoothing_is_an_exponential_mean_with_bias_correction():
    np.testing.assert_allclose(smooth(np.full(50, 2.5), 0.98), 2.5, rtol=1e-12)
    a, b, c, beta = 3.0, 1.0, 2.0, 0.9
    m1 = (1 - beta) * a
    m2 = beta * m1 + (1 - beta) * b
    m3 = beta * m2 + (1 - beta) * c
    np.testing.assert_allclose(smooth([a, b, c], beta),
                               [m1 / (1 - beta), m2 / (1 - beta ** 2), m3 / (1 - beta ** 3)],
                               rtol=1e-12)
    assert np.array_equal(smooth([4.0, 1.0, 7.0], 0.0), [4.0, 1.0, 7.0])


# --- stopping --------------------------------------------------------------------------------

class Scripted:
    """A loss that returns the given values in turn (its gradient is zero)."""

    def __init__(self, values):
        self.values, self.k, self.shape = list(values), 0, None

    def __call__(self, logits, y):
        self.shape = logits.shape
        self.k += 1
        return float(self.values[self.k - 1])

    def backward(self):
        return np.zeros(self.shape, dtype=np.float32)


def test_the_run_stops_once_the_smoothed_loss_exceeds_four_times_its_lowest():
    losses = np.concatenate([np.linspace(2.0, 0.5, 40), 0.5 * 1.25 ** np.arange(1, 61)])
    s = smooth(losses, 0.98)
    expected = int(np.argmax(s > 4 * np.minimum.accumulate(s)))   # the first batch over
    assert 40 < expected < 99
    res = lr_find(_net(), _data(), "sgd", criterion=Scripted(losses), num_batches=100,
                  batch_size=16)
    assert len(res.losses) == expected + 1 and np.array_equal(res.losses, losses[:expected + 1])
    assert res.smoothed[-1] > 4 * res.smoothed.min() and res.smoothed[-2] <= 4 * res.smoothed.min()
    assert f"batch {expected + 1}" in res.stop and "4 x" in res.stop


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_the_run_without_being_recorded(bad):
    losses = [2.0] * 25 + [bad] + [1.0] * 10
    res = lr_find(_net(), _data(), "sgd", criterion=Scripted(losses), num_batches=36,
                  batch_size=16)
    assert len(res.losses) == 25 and np.all(np.isfinite(res.losses))
    assert str(bad) in res.stop and "batch 26" in res.stop
    json.dumps(res.to_dict(), allow_nan=False)


def test_a_full_run_reaches_the_end_and_repeats_the_data():
    res = lr_find(_net(), _data(n=40), "sgd", start_lr=1e-5, end_lr=1e-3, num_batches=25,
                  batch_size=16)   # 3 batches per pass over the data: 9 passes
    assert len(res.losses) == 25 and "reached --end-lr" in res.stop


# --- the suggestion --------------------------------------------------------------------------

def _curve():
    """Falls fastest at lr 1e-3 (a logistic step in log lr), lowest near 0.1, then rises."""
    lrs = lr_schedule(1e-6, 1.0, 100)
    x = np.log10(lrs)
    return lrs, 2 - 1.5 / (1 + np.exp(-4 * (x + 3))) + 3 * np.maximum(0, x + 1) ** 2


def test_the_rules_read_the_curve():
    lrs, s = _curve()
    low = int(np.argmin(s))
    assert suggest(lrs, s, "min/10") == lrs[low] / 10
    assert abs(np.log10(lrs[low]) + 1) < 0.1
    steep = suggest(lrs, s, "steepest")
    assert abs(np.log10(steep) + 3) < 0.07          # within one step of the grid of 1e-3
    assert suggest(lrs, s + 0.01 * np.arange(100), "steepest") is not None
    rising = 1 + 0.01 * np.arange(100)
    assert all(suggest(lrs, rising, r) is None for r in RULES)   # never falls: nothing to read


def test_the_result_records_both_rules_and_is_strict_json():
    res = lr_find(_net(), _data(), "sgd", num_batches=60, batch_size=16, rule="steepest")
    assert set(res.candidates) == set(RULES) and res.rule == "steepest"
    assert res.suggestion == res.candidates["steepest"]
    for rule in RULES:
        assert res.candidates[rule] == suggest(res.lrs, res.smoothed, rule)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["batches_run"] == len(d["curve"]) == len(res.lrs)
    assert d["curve"][3] == {"lr": res.lrs[3], "loss": res.losses[3],
                             "smoothed": res.smoothed[3]}
    assert d["rule"] == "steepest" and d["min_loss_lr"] == res.min_loss_lr


# --- the model and optimizer are given back --------------------------------------------------

def _trained(seed=0):
    model = _net(seed)
    opt = optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    _train_steps(model, opt, _data(), 3)
    return model, opt


def test_weights_buffers_modes_generators_and_optimizer_state_are_restored_bit_for_bit():
    model, opt = _trained()
    model.eval()
    model[3].train()                   # a mixed state: only the Dropout in training mode
    before = _fingerprint(model, opt)
    res = lr_find(model, _data(), opt, num_batches=40, batch_size=16)
    assert len(res.losses) >= 30 and np.ptp(res.losses) > 0    # it trained meanwhile
    after = _fingerprint(model, opt)
    for key in before:
        assert after[key] == before[key], key


def test_without_the_restore_that_check_fails(monkeypatch):
    """The check above can fail: with restoring switched off it does."""
    monkeypatch.setattr(LR_FIND._Snapshot, "restore", lambda self: None)
    model, opt = _trained()
    before = _fingerprint(model, opt)
    lr_find(model, _data(), opt, num_batches=40, batch_size=16)
    after = _fingerprint(model, opt)
    changed = {k for k in before if after[k] != before[k]}
    assert {"weights", "grads", "generators", "groups", "opt"} <= changed


def test_training_after_the_test_is_the_training_without_it():
    runs = []
    for with_test in (False, True):
        model, opt = _trained()
        if with_test:
            lr_find(model, _data(seed=3), opt, num_batches=40, batch_size=16)
        _train_steps(model, opt, _data(), 5, seed=2)     # dropout draws from the model's rng
        runs.append(_fingerprint(model, opt))
    assert runs[0] == runs[1]


class FailsAt:
    """Cross-entropy that raises on its k-th call (the steps before it move the weights)."""

    def __init__(self, k):
        self.real, self.k, self.calls = nn.CrossEntropyLoss(), k, 0

    def __call__(self, logits, y):
        self.calls += 1
        if self.calls == self.k:
            raise KeyboardInterrupt
        return self.real(logits, y)

    def backward(self):
        return self.real.backward()


def test_an_interrupted_run_still_restores_the_model():
    model, opt = _trained()
    before = _fingerprint(model, opt)
    with pytest.raises(KeyboardInterrupt):
        lr_find(model, _data(), opt, criterion=FailsAt(30), num_batches=40, batch_size=16)
    assert _fingerprint(model, opt) == before


# --- randomness ------------------------------------------------------------------------------

def test_the_order_comes_from_the_seed_alone():
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6), ("g", np.random.default_rng(5))):
        np.random.seed(123)
        state = np.random.get_state()[1].copy()
        runs[name] = lr_find(_net(), _data(), "sgd", num_batches=30, batch_size=16,
                             seed=seed).losses
        assert np.array_equal(np.random.get_state()[1], state)    # the global RNG untouched
    assert np.array_equal(runs["a"], runs["b"]) and np.array_equal(runs["a"], runs["g"])
    assert not np.array_equal(runs["a"], runs["c"])


# --- data and settings -----------------------------------------------------------------------

def _images(n=64, size=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    labels = (images[:, 0, 0] > 127).astype(np.int64)
    return Dataset("toy", "train", images, labels, ["a", "b"], 0.5, 0.3, [])


@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.Linear(64, 8, rng=0), nn.ReLU(), nn.Linear(8, 2, rng=1)),
    lambda: nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=0), nn.ReLU(), nn.Flatten(),
                          nn.Linear(192, 2, rng=1))], ids=["flat", "image"])
def test_a_dataset_is_normalised_into_the_input_the_model_takes(make):
    res = lr_find(make(), _images(), "adam", num_batches=20, batch_size=16)
    assert len(res.losses) == 20 and np.all(np.isfinite(res.losses))


def test_uint8_arrays_need_a_transform():
    ds = _images()
    with pytest.raises(ConfigError, match="need a transform"):
        lr_find(_net(features=64, classes=2), (ds.images, ds.labels), "sgd")
    res = lr_find(_net(features=64, classes=2), (ds.images, ds.labels), "sgd", num_batches=20,
                  transform=lambda b: b.reshape(len(b), -1).astype(np.float32) / 255)
    assert len(res.losses) == 20


@pytest.mark.parametrize("kwargs,match", [
    ({"start_lr": 1.0, "end_lr": 0.1}, "must be below --end-lr"),
    ({"start_lr": 0.1, "end_lr": 0.1}, "must be below --end-lr"),
    ({"start_lr": 0.0}, "--start-lr must be a positive number"),
    ({"start_lr": -1e-3}, "--start-lr must be a positive number"),
    ({"end_lr": float("inf")}, "--end-lr must be a positive number"),
    ({"start_lr": float("nan")}, "--start-lr must be a positive number"),
    ({"num_batches": 19}, "--num-batches must be an integer >= 20"),
    ({"num_batches": 50.0}, "--num-batches must be an integer"),
    ({"beta": 1.0}, "beta must be in"),
    ({"diverge": 1.0}, "divergence factor"),
    ({"rule": "valley"}, "unknown rule 'valley'"),
])
def test_bad_settings_are_one_line_errors_before_anything_runs(kwargs, match):
    model = _net()
    before = _fingerprint(model, optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ConfigError, match=match) as info:
        lr_find(model, _data(), "sgd", **kwargs)
    assert "\n" not in str(info.value)
    assert _fingerprint(model, optim.SGD(model.parameters(), lr=0.1)) == before
    with pytest.raises(ConfigError, match=match):
        check_range(**{"start_lr": 1e-7, "end_lr": 10.0, "num_batches": 300, **kwargs})


@pytest.mark.parametrize("dataset,optimizer,match", [
    ((np.zeros((0, 12), np.float32), np.zeros(0, np.int64)), "sgd", "no samples"),
    ("mnist", "sgd", "must be a barenet Dataset or an"),
    (None, "lbfgs", "unknown optimizer 'lbfgs'"),
])
def test_bad_data_or_optimizer_names_are_one_line_errors(dataset, optimizer, match):
    with pytest.raises(ConfigError, match=match):
        lr_find(_net(), _data() if dataset is None else dataset, optimizer)


def test_the_snapshot_copies_rather_than_aliases():
    model, opt = _trained()
    snap = LR_FIND._Snapshot(model, opt)
    w = copy.deepcopy(model.state_dict())
    for p in model.parameters():
        p.data += 1.0
    snap.restore()
    assert all(np.array_equal(v, w[k]) for k, v in model.state_dict().items())


def test_a_config_starts_from_the_weights_and_first_batch_of_its_training():
    """lr_find_config's first loss (before any step) is training's first batch loss: the same
    initial weights, the same first batch of the same split."""
    from barenet.train.api import train_model
    from barenet.train.trainer import Callback
    from barenet.tune import lr_find_config

    class First(Callback):
        loss = None

        def on_batch_end(self, epoch, batch, loss):
            First.loss = First.loss if First.loss is not None else loss

    config = {"limit_train": 400, "batch_size": 32, "seed": 4, "hidden": 16}
    train_model({**config, "epochs": 1}, None, callbacks=[First()], evaluate_test=False)
    res, cfg = lr_find_config(config, num_batches=20)
    assert res.losses[0] == First.loss and res.settings["train_samples"] == 360
    assert cfg["seed"] == 4 and res.settings["seed"] == 4
    other, _ = lr_find_config({**config, "seed": 5}, num_batches=20)
    assert other.losses[0] != First.loss
