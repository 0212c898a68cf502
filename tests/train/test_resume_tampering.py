"""A tampered resume.npz: every single-field mutation of a real resume state either resumes or
makes ``barenet train --resume DIR`` exit 1 with one line on stderr, no traceback, and nothing
on disk changed (so it never trains first and fails afterwards)."""
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barenet.cli.main import main
from barenet.train import Callback, TrainingInterrupted, train_model
from barenet.train.resume import RESUME

BASE = {"limit_train": 300, "limit_test": 50, "epochs": 2, "hidden": 8, "batch_size": 100}
#: Runs stopped after epoch 1 of 2, one per kind of optimizer, schedule and generator.
FLAVOURS = {
    "sgd-cosine": {},
    "adam-onecycle-dropout-augment": {"model": "mlp-deep", "hidden": [8], "optimizer": "adam",
                                      "scheduler": "onecycle", "augment": True},
    "rmsprop-plateau": {"optimizer": "rmsprop", "scheduler": "plateau"},
    "sgd-step-no-validation": {"scheduler": "step", "val_split": 0.0, "epochs": 3},
    "adamw-none": {"optimizer": "adamw", "scheduler": "none"},
}
#: Values a field is replaced with: null, wrong types, huge, negative, NaN, infinite.
VALUES = {"null": None, "text": "x", "list": [], "object": {}, "true": True, "huge": 1e308,
          "huge-int": 10 ** 30, "negative": -1, "nan": math.nan, "inf": math.inf, "half": 0.5}
MISSING, EXTRA = "missing", "extra"
MUTATIONS = [*VALUES, MISSING, EXTRA]


class StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, record):
        raise KeyboardInterrupt


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """flavour -> a run directory interrupted after epoch 1 (resumable)."""
    root = tmp_path_factory.mktemp("tamper")
    out = {}
    for name, extra in FLAVOURS.items():
        with pytest.raises(TrainingInterrupted):
            train_model({**BASE, **extra}, root / name, plots=False,
                        callbacks=[StopAfterFirstEpoch()])
        out[name] = root / name
    return out


def read_state(run: Path) -> tuple[dict, dict]:
    with np.load(run / RESUME, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays.pop("state"))), arrays


def write_state(run: Path, state: dict, arrays: dict) -> None:
    np.savez(run / RESUME, state=np.array(json.dumps(state)), **arrays)  # NaN as NaN


def paths(obj, path=()):
    """Every node of a JSON tree as a tuple of keys, the root excluded."""
    if path:
        yield path
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) \
        else ()
    for key, value in items:
        yield from paths(value, (*path, key))


def mutate(state: dict, path: tuple, how: str) -> dict | None:
    """A copy of ``state`` with the node at ``path`` changed; None if ``how`` does not apply."""
    state = json.loads(json.dumps(state))
    parent = state
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if how == MISSING:
        if not isinstance(parent, dict):
            return None
        del parent[last]
    elif how == EXTRA:
        node = parent[last]
        if isinstance(node, dict):
            node["zzz_extra"] = 1
        elif isinstance(node, list):
            node.append(node[-1] if node else 1)
        else:
            return None
    else:
        parent[last] = VALUES[how]
    return state


def snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir()}


def resume_or_one_line(run: Path, capsys) -> str | None:
    """Run ``barenet train --resume``: None if it resumed, else its one error line (checked:
    exit 1, one line, no traceback, nothing on disk changed)."""
    before = snapshot(run)
    capsys.readouterr()
    rc = main(["train", "--resume", str(run), "--quiet", "--no-plots"])
    err = capsys.readouterr().err
    if rc == 0:
        assert json.loads((run / "trainer.json").read_text())["finished"] is True
        return None
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == 1 and lines[0].startswith("barenet: error: "), err[-3000:]
    assert "Traceback" not in err and len(lines[0]) < 400, lines[0][:1000]
    assert snapshot(run) == before, f"{lines[0]} -- but the run directory changed"
    return lines[0]


def check_all(base: Path, tmp_path: Path, cases, capsys) -> list[tuple]:
    """Apply each (label, state, arrays) to a fresh copy of ``base`` and resume it; returns the
    cases that broke a rule, with what happened."""
    bad = []
    for i, (label, state, arrays) in enumerate(cases):
        run = tmp_path / f"c{i}"
        shutil.copytree(base, run)
        write_state(run, state, arrays)
        try:
            resume_or_one_line(run, capsys)
        except AssertionError as exc:
            bad.append((label, str(exc).splitlines()[0][:300]))
        except Exception as exc:  # noqa: BLE001 - a traceback is what this test hunts
            bad.append((label, f"{type(exc).__name__}: {str(exc)[:200]}"))
        finally:
            shutil.rmtree(run)
    return bad


# -- the mutations the "Trust" issue found, each by name -------------------------------------
NAMED = [
    ("sgd-cosine", ("scheduler", "T_max"), "null"),
    ("sgd-cosine", ("history", 0), "null"),
    ("sgd-cosine", ("generators", "loader.rng", "state", "state"), "huge"),
    ("sgd-cosine", ("generators", "loader.rng", "state", "inc"), "negative"),
    ("sgd-cosine", ("generators", "loader.rng", "bit_generator"), "text"),
    ("sgd-cosine", ("generators", "loader.rng", "has_uint32"), "huge-int"),
    ("sgd-cosine", ("history", 0, "seconds"), "text"),
    ("sgd-cosine", ("history", 0, "val_acc"), "text"),
    ("sgd-cosine", ("best_val_acc", ), "text"),
    ("sgd-cosine", ("scheduler", "last_lr", 0), "nan"),
    ("sgd-cosine", ("optimizer", "state", "0", "momentum_buffer"), "null"),
    ("sgd-cosine", ("optimizer", "param_groups", 0, "lr"), "inf"),
    ("sgd-cosine", ("optimizer", "param_groups", 0, "nesterov"), "text"),
    ("adam-onecycle-dropout-augment", ("scheduler", "total_steps"), "negative"),
    ("adam-onecycle-dropout-augment", ("scheduler", "phases"), "null"),
    ("adam-onecycle-dropout-augment", ("scheduler", "use_beta1"), "text"),
    ("adam-onecycle-dropout-augment", ("optimizer", "state", "0", "step"), "huge"),
    ("adam-onecycle-dropout-augment", ("optimizer", "param_groups", 0, "max_lr"), MISSING),
    ("rmsprop-plateau", ("scheduler", "best"), "text"),
    ("rmsprop-plateau", ("scheduler", "mode"), "null"),
    ("rmsprop-plateau", ("scheduler", "patience"), "huge"),
]


@pytest.mark.parametrize("flavour, path, how", NAMED, ids=lambda v: str(v))
def test_named_mutations_are_one_line_errors(runs, tmp_path, capsys, flavour, path, how):
    state, arrays = read_state(runs[flavour])
    run = tmp_path / "run"
    shutil.copytree(runs[flavour], run)
    write_state(run, mutate(state, path, how), arrays)
    line = resume_or_one_line(run, capsys)
    assert line is not None and "resume.npz" in line


def test_total_steps_too_small_for_the_remaining_epochs_is_refused(runs, tmp_path, capsys):
    """OneCycleLR stops at total_steps: a smaller count would fail in the middle of training."""
    state, arrays = read_state(runs["adam-onecycle-dropout-augment"])
    state["scheduler"]["total_steps"] = state["scheduler"]["last_epoch"] + 1
    run = tmp_path / "run"
    shutil.copytree(runs["adam-onecycle-dropout-augment"], run)
    write_state(run, state, arrays)
    assert "total_steps" in resume_or_one_line(run, capsys)


def test_the_untampered_runs_resume(runs, tmp_path, capsys):
    for name, base in runs.items():
        run = tmp_path / name
        shutil.copytree(base, run)
        assert resume_or_one_line(run, capsys) is None, name


# -- every field of a real state, every mutation ------------------------------------------------
@pytest.mark.parametrize("how", ["null", "text", "object", "huge", "huge-int", "negative",
                                 "nan", "inf", MISSING, EXTRA])
def test_every_field_mutated_resumes_or_fails_in_one_line(runs, tmp_path, capsys, how):
    state, arrays = read_state(runs["sgd-cosine"])
    cases = []
    for path in paths(state):
        changed = mutate(state, path, how)
        if changed is not None:
            cases.append(("/".join(map(str, path)), changed, arrays))
    assert len(cases) > 10
    bad = check_all(runs["sgd-cosine"], tmp_path, cases, capsys)
    assert not bad, f"{len(bad)} of {len(cases)} mutations broke a rule: {bad[:10]}"


# -- the arrays beside the state ------------------------------------------------------------------
def _arrays_cases(state, arrays):
    first_opt = next(k for k in arrays if k.startswith("optimizer/"))
    nan = {**arrays, first_opt: np.full_like(arrays[first_opt], np.nan)}
    shape = {**arrays, first_opt: arrays[first_opt][:1]}
    text = {**arrays, first_opt: np.array(["x"] * arrays[first_opt].size)}
    missing = {k: v for k, v in arrays.items() if k != first_opt}
    extra = {**arrays, "optimizer/state.9.momentum_buffer": np.zeros(3, np.float32)}
    stray = {**arrays, "junk": np.zeros(3, np.float32)}
    model_nan = dict(arrays)
    model_nan["model/0.bias"] = np.full_like(arrays["model/0.bias"], np.nan)
    best_shape = dict(arrays)
    best_shape["best/0.weight"] = arrays["best/0.weight"][:2]
    return [(name, state, a) for name, a in [
        ("optimizer NaN", nan), ("optimizer shape", shape), ("optimizer text", text),
        ("optimizer missing", missing), ("optimizer extra", extra), ("stray", stray),
        ("model NaN", model_nan), ("best shape", best_shape)]]


def test_array_mutations_are_one_line_errors(runs, tmp_path, capsys):
    state, arrays = read_state(runs["sgd-cosine"])
    for label, changed_state, changed in _arrays_cases(state, arrays):
        run = tmp_path / label.replace(" ", "-")
        shutil.copytree(runs["sgd-cosine"], run)
        write_state(run, changed_state, changed)
        assert resume_or_one_line(run, capsys) is not None, label  # refused, not resumed


# -- property: any flavour, any field, any mutation ------------------------------------------------
FUZZ_EXAMPLES = int(os.environ.get("BARENET_FUZZ_EXAMPLES", 60))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), flavour=st.sampled_from(sorted(FLAVOURS)),
       how=st.sampled_from(MUTATIONS))
def test_any_single_mutation_resumes_or_fails_in_one_line(runs, tmp_path_factory, capsys, data,
                                                          flavour, how):
    state, arrays = read_state(runs[flavour])
    path = data.draw(st.sampled_from(list(paths(state))), label="path")
    changed = mutate(state, path, how)
    if changed is None:
        return
    tmp = tmp_path_factory.mktemp("fuzz")
    bad = check_all(runs[flavour], tmp, [("/".join(map(str, path)), changed, arrays)], capsys)
    assert not bad, bad
