"""Optimizers: parity with torch.optim over several steps, validation, groups, in-place float32."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from barenet import nn, optim

SHAPES = [(5, 4), (4,), (3, 2, 2)]
STEPS = 6


def _sgd_cases() -> list[dict]:
    cases = []
    for mom, damp, wd, nest, maxi in itertools.product(
            (0.0, 0.9), (0.0, 0.3), (0.0, 0.01), (False, True), (False, True)):
        if nest and (mom == 0 or damp != 0):
            continue
        cases.append(dict(lr=0.1, momentum=mom, dampening=damp, weight_decay=wd,
                          nesterov=nest, maximize=maxi))
    return cases


def _adam_cases(wds: tuple[float, ...]) -> list[dict]:
    return [dict(lr=0.01, betas=betas, weight_decay=wd, amsgrad=ams, maximize=maxi)
            for betas, wd, ams, maxi in itertools.product(
                ((0.9, 0.999), (0.3, 0.6)), wds, (False, True), (False, True))]


def _rmsprop_cases() -> list[dict]:
    return [dict(lr=0.01, alpha=alpha, weight_decay=wd, momentum=mom, centered=cen,
                 maximize=maxi)
            for alpha, wd, mom, cen, maxi in itertools.product(
                (0.99, 0.5), (0.0, 0.05), (0.0, 0.9), (False, True), (False, True))]


CASES = ([("SGD", kw) for kw in _sgd_cases()] + [("Adam", kw) for kw in _adam_cases((0.0, 0.1))]
         + [("AdamW", kw) for kw in _adam_cases((0.0, 0.1))]
         + [("RMSprop", kw) for kw in _rmsprop_cases()])


def _ids(case: tuple[str, dict]) -> str:
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items() if k != "lr")


def _run_parity(torch, name: str, kw: dict, groups: list[dict] | None = None) -> None:
    rng = np.random.default_rng(7)
    init = [rng.standard_normal(s) for s in SHAPES]
    ours = [nn.Parameter(a.copy()) for a in init]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    if groups is None:
        opt = getattr(optim, name)(ours, **kw)
        topt = getattr(torch.optim, name)(theirs, **kw)
    else:
        opt = getattr(optim, name)([dict(g, params=[ours[i] for i in g["params"]])
                                    for g in groups], **kw)
        topt = getattr(torch.optim, name)([dict(g, params=[theirs[i] for i in g["params"]])
                                           for g in groups], **kw)
    for _ in range(STEPS):
        for p, tp in zip(ours, theirs):
            g = rng.standard_normal(p.shape)
            p.grad[...] = g
            tp.grad = torch.tensor(g.copy())
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-9,
                                       err_msg=f"parameter {i}")
    for p, tp in zip(ours, theirs):
        theirs_state = {k: v for k, v in topt.state[tp].items() if v is not None}
        assert set(opt.state.get(p, {})) == set(theirs_state)
        for key, value in opt.state.get(p, {}).items():
            want = theirs_state[key]
            want = want.item() if key == "step" else want.numpy()
            np.testing.assert_allclose(value, want, rtol=1e-6, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_parity_with_torch(case: tuple[str, dict]) -> None:
    torch = pytest.importorskip("torch")
    _run_parity(torch, *case)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("Adam", dict(lr=0.01)), ("RMSprop", dict(lr=0.01))])
def test_parity_with_param_groups(name: str, kw: dict) -> None:
    torch = pytest.importorskip("torch")
    groups = [{"params": [0, 2], "lr": 0.05, "weight_decay": 0.1}, {"params": [1]}]
    _run_parity(torch, name, kw, groups)


@pytest.mark.parametrize("name,kw,lr", [("SGD", dict(momentum=0.9), 0.05),
                                        ("SGD", dict(momentum=0.9, nesterov=True), 0.05),
                                        ("Adam", {}, 0.05), ("AdamW", {}, 0.05),
                                        ("Adam", dict(amsgrad=True), 0.05),
                                        ("RMSprop", {}, 1e-3),
                                        ("RMSprop", dict(centered=True, momentum=0.5), 1e-3)])
def test_minimises_a_quadratic(name: str, kw: dict, lr: float) -> None:
    """f(x) = 0.5 x^T A x - b^T x with A positive definite: x should reach A^-1 b."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal((6, 6))
    a = q @ q.T / 6 + np.eye(6)
    b = rng.standard_normal(6)
    x = nn.Parameter(np.zeros(6))
    if name == "AdamW":
        kw = dict(kw, weight_decay=0.0)
    opt = getattr(optim, name)([x], lr=lr, **kw)
    for _ in range(2000):
        opt.zero_grad()
        x.grad += a @ x.data - b
        opt.step()
    np.testing.assert_allclose(x.data, np.linalg.solve(a, b), atol=1e-3)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_float32_updates_in_place(name: str) -> None:
    rng = np.random.default_rng(1)
    p = nn.Parameter(rng.standard_normal((8, 3)).astype(np.float32))
    data = p.data
    kw = dict(momentum=0.9, weight_decay=1e-3)
    kw = kw if name in ("SGD", "RMSprop") else dict(weight_decay=1e-3, amsgrad=True)
    opt = getattr(optim, name)([p], lr=0.01, **kw)
    for _ in range(3):
        p.grad[...] = rng.standard_normal(p.shape)
        opt.step()
    assert p.data is data and p.data.dtype == np.float32
    for value in opt.state[p].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


def test_generator_zero_grad_none_grad_and_lr_property() -> None:
    model = nn.Sequential(nn.Linear(3, 2, rng=0))
    opt = optim.SGD((p for p in model.parameters()), lr=0.5)
    assert len(opt.param_groups) == 1 and len(opt.param_groups[0]["params"]) == 2
    w, b = model.parameters()
    w.grad += 1.0
    b.grad = None  # like torch: parameters without a gradient are skipped
    before_b = b.data.copy()
    opt.step()
    np.testing.assert_array_equal(b.data, before_b)
    opt.zero_grad()
    assert not w.grad.any()
    opt.lr = 0.25
    assert opt.lr == 0.25 and opt.param_groups[0]["lr"] == 0.25
    assert opt.step(closure=lambda: 3.5) == 3.5


def test_add_param_group_fills_defaults() -> None:
    p, q = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))
    opt = optim.Adam([p], lr=0.1, betas=(0.8, 0.9))
    opt.add_param_group({"params": [q], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match="more than one group"):
        opt.add_param_group({"params": [p]})


def test_groups_keep_other_keys_as_in_torch() -> None:
    """Keys that are no hyper-parameter (a name, a scheduler's) are kept, as PyTorch does; only
    a near-miss of a hyper-parameter's name is taken for a typo."""
    p, q = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))
    opt = optim.SGD([{"params": [p], "name": "head", "initial_lr": 0.2}], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": [q], "max_momentum": 0.95, "lr_mult": 2})
    assert opt.param_groups[0]["name"] == "head" and opt.param_groups[0]["initial_lr"] == 0.2
    assert opt.param_groups[1]["max_momentum"] == 0.95 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="'weight_decy' \\(did you mean 'weight_decay'\\?\\)"):
        opt.add_param_group({"params": [nn.Parameter(np.zeros(1))], "weight_decy": 0.1})


@pytest.mark.parametrize("factory,match", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "invalid lr -0.1, expected >= 0"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), "invalid momentum"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "invalid weight_decay"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), "nesterov=True needs momentum > 0"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "dampening == 0"),
    (lambda ps: optim.Adam(ps, lr=-1), "invalid lr"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.9)), r"invalid beta1 \(betas\[0\]\) 1.0, "
                                                   r"expected in \[0.0, 1.0\)"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), "invalid beta2"),
    (lambda ps: optim.Adam(ps, betas=(0.9,)), "expected a pair"),
    (lambda ps: optim.AdamW(ps, eps=-1e-8), "invalid eps"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.1), "invalid weight_decay"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.5), "invalid alpha"),
    (lambda ps: optim.RMSprop(ps, momentum=-0.5), "invalid momentum"),
    (lambda ps: optim.RMSprop(ps, eps=-1.0), "invalid eps"),
    (lambda ps: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda ps: optim.SGD(ps + ps, lr=0.1), "appears twice"),
    (lambda ps: optim.SGD([{"params": ps, "momentun": 0.9}], lr=0.1),
     "unknown hyper-parameter 'momentun'"),
])
def test_invalid_hyper_parameters(factory, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory([nn.Parameter(np.zeros(3))])


def test_params_must_be_parameters() -> None:
    with pytest.raises(TypeError, match=r"params\[0\] is a ndarray"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Parameters"):
        optim.SGD(nn.Parameter(np.zeros(3)), lr=0.1)
    with pytest.raises(TypeError, match="invalid lr '0.1', expected a number"):
        optim.SGD([nn.Parameter(np.zeros(3))], lr="0.1")
    opt = optim.SGD([nn.Parameter(np.zeros(3))], lr=0.1)
    with pytest.raises(ValueError, match="invalid lr"):
        opt.lr = -1.0
