"""barenet.exercises.check: independent solutions pass, every catalogued mistake is named,
other wrong classes fail naming the wrong quantity, every stub reports "not written"."""
from __future__ import annotations

import ast
import re
import types

import numpy as np
import pytest
from ex_planted import CATALOGUED, SOLUTIONS, planted
from ex_solutions_mlp import Conv2d, Linear, MaxPool2d, Tanh
from ex_solutions_more import Adam, BatchNorm1d

import barenet.exercises as ex
from barenet.exercises.registry import spec_of

GENERIC = {"gradient assigned instead of added"}  # recognised by the engine for every layer


def _stub_class(name: str) -> type:
    module = types.ModuleType(f"stub_{name}")
    exec(compile(ex.stub_text(name), f"{name}.py", "exec"), module.__dict__)  # noqa: S102
    return getattr(module, ex.info(name).class_name)


@pytest.mark.parametrize("name", ex.NAMES)
def test_independent_solution_passes(name: str) -> None:
    result = ex.check(name, SOLUTIONS[name])
    assert result.status == ex.PASSED, result.report()
    assert result.checks and all(c.passed for c in result.checks)


@pytest.mark.parametrize("exercise, mistake, attrs", CATALOGUED,
                         ids=[f"{e}-{m}" for e, m, _ in CATALOGUED])
def test_catalogued_mistake_is_named(exercise: str, mistake: str, attrs: dict) -> None:
    result = ex.check(exercise, planted(exercise, **attrs))
    assert result.status == ex.FAILED
    named = [c for c in result.failures() if f"Looks like the mistake '{mistake}'" in c.message]
    assert named, result.report()


def test_every_catalogued_mistake_is_planted_and_each_exercise_has_two() -> None:
    planted_names = {(e, m) for e, m, _ in CATALOGUED}
    for name in ex.NAMES:
        mistakes = {m.name for m in spec_of(name).mistakes}
        assert len(mistakes) >= 2, name
        missing = {m for m in mistakes if (name, m) not in planted_names}
        assert not missing, f"{name}: no planted test for {missing}"
    catalogue = {(n, m.name) for n in ex.NAMES for m in spec_of(n).mistakes}
    assert {(e, m) for e, m in planted_names if m not in GENERIC} <= catalogue


class LinearNoBias(Linear):
    def forward(self, x):
        return x @ self.weight.data.T


class LinearChangesInput(Linear):
    def forward(self, x):
        y = super().forward(x)
        x *= 2.0
        return y


class LinearCrashes(Linear):
    def backward(self, g):
        raise ValueError("shapes do not fit")


class LinearWrongNames(Linear):
    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        super().__init__(in_features, out_features, bias, rng, dtype)
        self.W = self.weight
        del self.weight


class TanhHalf(Tanh):
    def backward(self, g):
        return 0.5 * super().backward(g)


class BatchNormNoRunning(BatchNorm1d):
    def forward(self, x):
        mean, var = self.running_mean.copy(), self.running_var.copy()
        y = super().forward(x)
        self.running_mean, self.running_var = mean, var
        return y


class ConvDxTwice(Conv2d):
    def backward(self, g):
        return 2 * super().backward(g)


class PoolNoOverlapAdd(MaxPool2d):
    """Writes instead of adding where windows overlap: wrong only for stride < kernel."""

    def backward(self, g):
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.pad
        ho, wo = self.out
        dxp = np.zeros(self.pshape)
        for j, (u, v) in enumerate((u, v) for u in range(kh) for v in range(kw)):
            window = dxp[:, :, u:u + sh * ho:sh, v:v + sw * wo:sw]
            hit = self.arg == j
            window[hit] = g[hit]
        h, w = self.xshape[2:]
        return dxp[:, :, ph:ph + h, pw:pw + w]


class AdamRenamedState(Adam):
    def step(self, closure=None):
        super().step()
        for st in self.state.values():
            st["m"] = st.pop("exp_avg")


UNCATALOGUED = [
    ("linear", LinearNoBias, "output"),
    ("linear", LinearChangesInput, "inputs unchanged"),
    ("linear", LinearCrashes, "runs"),
    ("linear", LinearWrongNames, "parameters"),
    ("tanh", TanhHalf, "dL/dx"),
    ("batchnorm1d", BatchNormNoRunning, "running_mean"),
    ("conv2d", ConvDxTwice, "dL/dx"),
    ("maxpool2d", PoolNoOverlapAdd, "dL/dx"),
    ("adam", AdamRenamedState, "state 'exp_avg'"),
]


@pytest.mark.parametrize("exercise, cls, quantity", UNCATALOGUED,
                         ids=[c.__name__ for _, c, _ in UNCATALOGUED])
def test_uncatalogued_wrong_class_fails_naming_the_quantity(exercise: str, cls: type,
                                                            quantity: str) -> None:
    result = ex.check(exercise, cls)
    assert result.status == ex.FAILED
    failed = {c.name: c.message for c in result.failures()}
    assert quantity in failed, result.report()
    assert "Looks like the mistake" not in failed[quantity]
    assert "\n" not in failed[quantity]


def test_a_crash_is_one_line_with_the_learners_file_and_line() -> None:
    message = {c.name: c.message for c in ex.check("linear", LinearCrashes).checks}["runs"]
    assert "backward raised ValueError: shapes do not fit at " in message
    assert "test_exercise_checks.py:" in message


def test_wrong_value_message_names_the_worst_element_and_both_values() -> None:
    message = {c.name: c.message for c in ex.check("tanh", TanhHalf).checks}["dL/dx"]
    assert message.startswith("worst at [") and "yours " in message and "expected " in message


@pytest.mark.parametrize("name", ex.NAMES)
def test_every_stub_unfilled_is_not_written(name: str) -> None:
    result = ex.check(name, _stub_class(name))
    assert result.status == ex.NOT_WRITTEN, result.report()
    assert "NotImplementedError" in result.checks[-1].message


@pytest.mark.parametrize("name", ex.NAMES)
def test_stub_imports_only_numpy_and_barenet_and_carries_its_marker(name: str) -> None:
    text = ex.stub_text(name)
    roots = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    assert roots <= {"numpy", "barenet", "__future__"}, roots
    assert f"# barenet-exercise: {name}\n" in text
    assert re.search(rf"^class {ex.info(name).class_name}[(:]", text, re.M)
    assert '"""' in text.split("class ", 1)[1]   # the class and its methods are documented


@pytest.mark.parametrize("name", ex.NAMES)
def test_stub_loads_the_reference_state_dict(name: str) -> None:
    spec = spec_of(name)
    if ex.info(name).kind == "optimizer":
        return
    cls = _stub_class(name)
    for cfg in spec.configs:
        learner, reference = cls(**cfg.kwargs), spec.reference(**cfg.kwargs)
        if hasattr(reference, "state_dict"):
            learner.load_state_dict(reference.state_dict())


def test_result_record() -> None:
    result = ex.check("relu", SOLUTIONS["relu"])
    record = result.to_dict()
    assert set(record) == {"exercise", "file", "status", "checks"}
    assert record["status"] == "passed" and record["file"] is None
    assert all(set(c) == {"name", "passed", "message"} for c in record["checks"])
    assert str(result).splitlines()[0] == "relu: passed"
    assert "  PASS dL/dx" in repr(result)
    result.assert_passed()
    failing = ex.check("tanh", TanhHalf)
    assert "  FAIL dL/dx: " in str(failing)
    with pytest.raises(AssertionError, match="FAIL dL/dx"):
        failing.assert_passed()


def test_unknown_exercise_or_not_a_class() -> None:
    with pytest.raises(ValueError, match="unknown exercise 'nope'"):
        ex.check("nope", Linear)
    with pytest.raises(TypeError):
        ex.check("linear", Linear(2, 3))
