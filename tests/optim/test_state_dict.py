"""Optimizer state_dict: .npz + JSON round trips resume bit-exactly; bad states are refused."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from barenet import nn, optim
from barenet.optim import lr_scheduler

SHAPES = [(6, 5), (5,), (2, 3)]
CONFIGS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=1e-2)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.95))),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("RMSprop", dict(lr=0.01)),
]


def _params(dtype=np.float32) -> list[nn.Parameter]:
    rng = np.random.default_rng(5)
    return [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in SHAPES]


def _grads(n: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(6)
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(n)]


def _train(opt, params, sched, grads) -> None:
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad[...] = g
        opt.step()
        sched.step()


def _save(opt, sched, folder: Path) -> None:
    arrays, meta = optim.flatten_state(opt.state_dict())
    np.savez(folder / "optimizer.npz", **arrays)
    state = {"optimizer": meta, "scheduler": sched.state_dict()}
    (folder / "trainer.json").write_text(json.dumps(state, allow_nan=False))


@pytest.mark.parametrize("name,kw", CONFIGS, ids=lambda c: str(c))
def test_resume_is_bit_exact(name: str, kw: dict, tmp_path: Path) -> None:
    """N steps straight == k steps, save to .npz + JSON, load into fresh objects, N - k steps."""
    n, k = 10, 4
    grads = _grads(n)
    params = _params()
    opt = getattr(optim, name)(params, **kw)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=n)
    _train(opt, params, sched, grads)

    params1 = _params()
    opt1 = getattr(optim, name)(params1, **kw)
    sched1 = lr_scheduler.OneCycleLR(opt1, max_lr=0.05, total_steps=n)
    _train(opt1, params1, sched1, grads[:k])
    _save(opt1, sched1, tmp_path)
    weights = [p.data.copy() for p in params1]
    for p in params1:  # the saved copies must not follow later updates
        p.data += 1.0
    del opt1, sched1

    params2 = [nn.Parameter(w) for w in weights]
    opt2 = getattr(optim, name)(params2)  # default hyper-parameters: the state restores them
    sched2 = lr_scheduler.OneCycleLR(opt2, max_lr=0.05, total_steps=n)
    state = json.loads((tmp_path / "trainer.json").read_text())
    with np.load(tmp_path / "optimizer.npz", allow_pickle=False) as arrays:
        opt2.load_state_dict(optim.unflatten_state(arrays, state["optimizer"]))
    sched2.load_state_dict(state["scheduler"])
    _train(opt2, params2, sched2, grads[k:])
    for p, q in zip(params, params2):
        assert q.data.dtype == np.float32
        np.testing.assert_array_equal(p.data, q.data)
    for p, q in zip(params, params2):
        for key, value in opt.state.get(p, {}).items():
            np.testing.assert_array_equal(value, opt2.state[q][key])


def test_state_dict_shape_and_copies() -> None:
    params = _params()
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.1}], lr=0.01)
    for p in params:
        p.grad += 1.0
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 1, 2]
    assert sd["state"][2]["step"] == 1 and sd["state"][2]["exp_avg"].shape == SHAPES[2]
    saved = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)
    arrays, meta = optim.flatten_state(sd)
    assert set(arrays) == {f"state.{i}.{n}" for i in range(3) for n in ("exp_avg", "exp_avg_sq")}
    back = optim.unflatten_state(arrays, json.loads(json.dumps(meta)))
    assert back["param_groups"] == sd["param_groups"]
    assert back["state"][1]["step"] == 1


def _adam_state() -> dict:
    params = _params()
    opt = optim.Adam(params, lr=0.01)
    for p in params:
        p.grad += 1.0
    opt.step()
    return opt.state_dict()


@pytest.mark.parametrize("make,match", [
    (lambda: optim.Adam(_params()[:2]), "group 0 of the state has 3 parameters, the "
                                        "optimizer's has 2"),
    (lambda: optim.Adam([{"params": _params()[:1]}, {"params": _params()[1:]}]),
     "the state has 1 parameter groups, the optimizer has 2"),
    (lambda: optim.Adam([nn.Parameter(np.zeros(s)) for s in [(6, 5), (4,), (2, 3)]]),
     r"parameter 1 'exp_avg': expected shape \(4,\), got \(5,\)"),
    (lambda: optim.SGD(_params(), lr=0.1, momentum=0.9), "lacks hyper-parameters "
                                                         r"\['dampening', 'momentum'"),
])
def test_load_state_dict_refuses_a_mismatch(make, match: str) -> None:
    opt = make()
    groups_before = [dict(g) for g in opt.param_groups]
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(_adam_state())
    assert opt.param_groups == groups_before and not opt.state


def test_load_state_dict_refuses_bad_hyper_parameters_and_structure() -> None:
    sd = _adam_state()
    sd["param_groups"][0]["betas"] = (1.5, 0.9)
    with pytest.raises(ValueError, match="invalid beta1"):
        optim.Adam(_params()).load_state_dict(sd)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        optim.Adam(_params()).load_state_dict({"state": {}})
    sd = _adam_state()
    sd["state"][0]["momentum_buffer"] = sd["state"][0].pop("exp_avg")
    with pytest.raises(ValueError, match=r"parameter 0 has state \['exp_avg_sq', "
                                         r"'momentum_buffer', 'step'\], expected"):
        optim.Adam(_params()).load_state_dict(sd)
    sd = _adam_state()
    sd["state"][7] = sd["state"].pop(0)
    with pytest.raises(ValueError, match="state for parameter 7"):
        optim.Adam(_params()).load_state_dict(sd)


def test_unflatten_refuses_missing_arrays_and_other_versions() -> None:
    arrays, meta = optim.flatten_state(_adam_state())
    del arrays["state.1.exp_avg_sq"]
    with pytest.raises(ValueError, match="array 'state.1.exp_avg_sq' for parameter 1"):
        optim.unflatten_state(arrays, meta)
    with pytest.raises(ValueError, match="format_version 99, expected 1"):
        optim.unflatten_state(arrays, dict(meta, format_version=99))
