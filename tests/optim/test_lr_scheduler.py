"""Learning-rate schedulers: lr sequences against torch.optim.lr_scheduler, state round trips."""
from __future__ import annotations

import json

import numpy as np
import pytest

from barenet import nn, optim
from barenet.optim import lr_scheduler

STEPS = 30
LRS = [0.1, 0.03]  # two parameter groups

SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("ExponentialLR", dict(gamma=0.85)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=STEPS)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS)),
    ("OneCycleLR", dict(max_lr=[1.0, 0.2], total_steps=STEPS, pct_start=0.25,
                        anneal_strategy="linear")),
    ("OneCycleLR", dict(max_lr=0.5, epochs=3, steps_per_epoch=10, three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS, div_factor=10.0, final_div_factor=100.0,
                        cycle_momentum=False)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS, base_momentum=0.5, max_momentum=0.8)),
]
OPTIMIZERS = [("SGD", dict(momentum=0.9)), ("Adam", {})]


def _groups(params: list) -> list[dict]:
    return [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]


def _ours(opt_name: str, opt_kw: dict, sched_name: str, sched_kw: dict):
    params = [nn.Parameter(np.zeros(2)) for _ in LRS]
    opt = getattr(optim, opt_name)(_groups(params), **opt_kw)
    return opt, getattr(lr_scheduler, sched_name)(opt, **sched_kw)


def _momenta(opt) -> list[float]:
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("opt_name,opt_kw", OPTIMIZERS)
@pytest.mark.parametrize("sched_name,sched_kw", SCHEDULERS)
def test_lr_sequence_matches_torch(opt_name, opt_kw, sched_name, sched_kw) -> None:
    torch = pytest.importorskip("torch")
    opt, sched = _ours(opt_name, opt_kw, sched_name, sched_kw)
    tparams = [torch.zeros(2, requires_grad=True) for _ in LRS]
    topt = getattr(torch.optim, opt_name)(_groups(tparams), **opt_kw)
    tsched = getattr(torch.optim.lr_scheduler, sched_name)(topt, **sched_kw)
    for step in range(STEPS + 1):
        if step:
            topt.step()
            tsched.step()
            opt.step()
            sched.step()
        np.testing.assert_allclose(sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-9,
                                   atol=1e-15, err_msg=f"step {step}")
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        np.testing.assert_allclose(_momenta(opt), _momenta(topt), rtol=1e-9, err_msg="momentum")


PLATEAU = [
    dict(patience=2),
    dict(patience=0, factor=0.5, min_lr=0.02),
    dict(mode="max", threshold=0.05, threshold_mode="abs", patience=1),
    dict(mode="max", patience=1, cooldown=2, min_lr=[0.0, 0.01]),
    dict(threshold_mode="abs", threshold=0.01, patience=1, cooldown=1, factor=0.3),
]


def _metrics() -> list[float]:
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.choice([-0.1, 0.0, 0.0, 0.02], size=40)) + 2.0
    return [float(v) for v in np.round(walk, 3)]


@pytest.mark.parametrize("kw", PLATEAU)
def test_reduce_on_plateau_matches_torch(kw: dict) -> None:
    torch = pytest.importorskip("torch")
    opt, sched = _ours("SGD", {}, "ReduceLROnPlateau", kw)
    tparams = [torch.zeros(2, requires_grad=True) for _ in LRS]
    topt = torch.optim.SGD(_groups(tparams))
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    lrs = set()
    for i, metric in enumerate(_metrics()):
        sched.step(metric)
        tsched.step(metric)
        assert sched.get_last_lr() == tsched.get_last_lr(), f"step {i}"
        assert sched.num_bad_epochs == tsched.num_bad_epochs
        lrs.add(tuple(sched.get_last_lr()))
    assert len(lrs) > 1  # the metric sequence does trigger reductions


@pytest.mark.parametrize("sched_name,sched_kw", SCHEDULERS[::2] + [
    ("ReduceLROnPlateau", dict(patience=1, cooldown=1))])
def test_state_dict_round_trip_through_json(sched_name: str, sched_kw: dict) -> None:
    """k steps, save as strict JSON, load into a fresh scheduler: the rest of the sequence and
    the optimizer's lr and momentum are identical to an uninterrupted run."""
    metrics = _metrics()

    def advance(sched, i):
        sched.step(metrics[i]) if sched_name == "ReduceLROnPlateau" else sched.step()

    opt, sched = _ours("SGD", dict(momentum=0.9), sched_name, sched_kw)
    straight = []
    for i in range(STEPS):
        advance(sched, i)
        straight.append((sched.get_last_lr(), _momenta(opt)))
    opt, sched = _ours("SGD", dict(momentum=0.9), sched_name, sched_kw)
    for i in range(12):
        advance(sched, i)
    text = json.dumps(sched.state_dict(), allow_nan=False)
    opt_text = json.dumps(optim.flatten_state(opt.state_dict())[1], allow_nan=False)
    # a fresh optimizer loaded first, then a fresh scheduler built on it: order must not matter
    opt2, _ = _ours("SGD", dict(momentum=0.9), "StepLR", dict(step_size=1))
    opt2.load_state_dict(optim.unflatten_state({}, json.loads(opt_text)))
    sched2 = getattr(lr_scheduler, sched_name)(opt2, **sched_kw)
    sched2.load_state_dict(json.loads(text))
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert [g["lr"] for g in opt2.param_groups] == sched.get_last_lr()
    assert _momenta(opt2) == _momenta(opt)
    resumed = []
    for i in range(12, STEPS):
        advance(sched2, i)
        resumed.append((sched2.get_last_lr(), _momenta(opt2)))
    assert resumed == straight[12:]


def test_one_cycle_refuses_to_step_past_total_steps() -> None:
    opt, sched = _ours("SGD", {}, "OneCycleLR", dict(max_lr=0.1, total_steps=3))
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="stepped 4 times, but total_steps is 3"):
        sched.step()


@pytest.mark.parametrize("name,kw,match", [
    ("StepLR", dict(step_size=0), "invalid step_size 0"),
    ("CosineAnnealingLR", dict(T_max=0), "invalid T_max 0"),
    ("OneCycleLR", dict(max_lr=0.1), "give total_steps"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=-5), "invalid total_steps -5"),
    ("OneCycleLR", dict(max_lr=0.1, epochs=2, steps_per_epoch=0), "invalid steps_per_epoch"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, pct_start=1.5), "invalid pct_start"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=10, anneal_strategy="exp"),
     "invalid anneal_strategy"),
    ("OneCycleLR", dict(max_lr=[0.1, 0.2, 0.3], total_steps=10), "expected 2 values"),
    ("ReduceLROnPlateau", dict(factor=1.0), r"invalid factor 1.0, expected in \[0, 1\)"),
    ("ReduceLROnPlateau", dict(mode="up"), "invalid mode 'up'"),
    ("ReduceLROnPlateau", dict(threshold_mode="pct"), "invalid threshold_mode"),
    ("ReduceLROnPlateau", dict(min_lr=[0.1]), "expected 2 values"),
])
def test_invalid_scheduler_arguments(name: str, kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _ours("SGD", {}, name, kw)


def test_one_cycle_needs_momentum_to_cycle_it() -> None:
    class Plain(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

        def _update(self, group):
            pass

    opt = Plain([nn.Parameter(np.zeros(2))])
    with pytest.raises(ValueError, match="needs an optimizer with momentum or betas"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5, cycle_momentum=False)
    assert sched.get_last_lr() == [pytest.approx(0.004)]


def test_scheduler_state_of_another_kind_is_refused() -> None:
    opt, sched = _ours("SGD", {}, "StepLR", dict(step_size=2))
    other = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.raises(ValueError, match="the state is of 'ExponentialLR'"):
        sched.load_state_dict(other.state_dict())
    with pytest.raises(TypeError, match="expected a barenet Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)


# Scheduler states as run directories written before schedulers declared their interval hold
# them (the format is unchanged: a state written today is the same dict).
SAVED_BEFORE = {
    "OneCycleLR": (dict(max_lr=1.0, total_steps=10), [None] * 4, {
        "name": "OneCycleLR", "last_epoch": 4, "step_count": 5, "base_lrs": [0.04, 0.04],
        "last_lr": [0.8117456539497631, 0.8117456539497631], "total_steps": 10,
        "phases": [[2.0, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                   [9, "max_lr", "min_lr", "base_momentum", "max_momentum"]],
        "anneal_strategy": "cos", "cycle_momentum": True, "use_beta1": False}),
    "ReduceLROnPlateau": (dict(patience=1, cooldown=1), [1.0, 1.0, 1.0, 0.5], {
        "name": "ReduceLROnPlateau", "last_epoch": 4, "step_count": 4, "base_lrs": [0.1, 0.03],
        "last_lr": [0.010000000000000002, 0.003], "mode": "min", "factor": 0.1, "patience": 1,
        "threshold": 0.0001, "threshold_mode": "rel", "cooldown": 1, "min_lrs": [0.0, 0.0],
        "eps": 1e-08, "cooldown_counter": 0, "num_bad_epochs": 0, "best": 0.5}),
}


@pytest.mark.parametrize("name", sorted(SAVED_BEFORE))
def test_state_dict_format_is_unchanged_and_old_states_load(name: str) -> None:
    kw, metrics, saved = SAVED_BEFORE[name]
    opt, sched = _ours("SGD", dict(momentum=0.9), name, kw)
    for m in metrics:
        sched.step(m) if m is not None else sched.step()
    assert json.loads(json.dumps(sched.state_dict())) == saved
    opt2, sched2 = _ours("SGD", dict(momentum=0.9), name, kw)
    sched2.load_state_dict(json.loads(json.dumps(saved)))
    assert sched2.get_last_lr() == sched.get_last_lr() == [g["lr"] for g in opt2.param_groups]
    assert _momenta(opt2) == _momenta(opt)


@pytest.mark.parametrize("name,kw,interval", [
    ("StepLR", dict(step_size=2), "epoch"), ("ExponentialLR", dict(gamma=0.9), "epoch"),
    ("CosineAnnealingLR", dict(T_max=5), "epoch"),
    ("CosineAnnealingLR", dict(T_max=5, interval="batch"), "batch"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=5), "batch"),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=5, interval="epoch"), "epoch"),
    ("ReduceLROnPlateau", {}, "metric")])
def test_every_scheduler_declares_when_it_steps(name: str, kw: dict, interval: str) -> None:
    _, sched = _ours("SGD", dict(momentum=0.9), name, kw)
    assert isinstance(sched, optim.Scheduler) and sched.interval == interval
    assert f"interval={interval!r}" in repr(sched)
    # ReduceLROnPlateau is a sibling of LRScheduler, with PyTorch's step(metric)
    assert isinstance(sched, optim.LRScheduler) == (name != "ReduceLROnPlateau")


@pytest.mark.parametrize("name,kw", [("StepLR", dict(step_size=2, interval="metric")),
                                     ("OneCycleLR", dict(max_lr=0.1, total_steps=5,
                                                         interval="batches"))])
def test_an_interval_a_scheduler_cannot_use_is_refused(name: str, kw: dict) -> None:
    with pytest.raises(ValueError, match=f"{name}: invalid interval .*expected one of "
                                         "'batch', 'epoch'"):
        _ours("SGD", dict(momentum=0.9), name, kw)


def test_a_saved_learning_rate_beyond_any_that_trains_is_refused() -> None:
    """A checkpoint edited to base_lrs [1e308] would resume, then diverge epochs later; it is
    refused when loaded instead."""
    w = nn.Parameter(np.zeros(3, dtype=np.float32))
    opt = optim.SGD([w], lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    saved = sched.state_dict()
    saved["base_lrs"] = [1e308]
    with pytest.raises(ValueError, match=r"base_lrs\[0\] must be a finite number >= 0.0 and <= "):
        lr_scheduler.StepLR(opt, step_size=2, gamma=0.1).load_state_dict(saved)
    saved = sched.state_dict()
    saved["last_lr"] = [2e9]
    with pytest.raises(ValueError, match=r"last_lr\[0\]"):
        lr_scheduler.StepLR(opt, step_size=2, gamma=0.1).load_state_dict(saved)
