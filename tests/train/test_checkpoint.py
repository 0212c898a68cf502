"""Run directories: save/load round trip, validation errors, atomic writes, corrupted bytes."""
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barenet.errors import CheckpointError
from barenet.train import fileio, load_run, train_model
from barenet.train.checkpoint import FORMAT_VERSION
from barenet.train.resume import RESUME, read_resume_state, save_training_state


def test_load_run_round_trip(run_dir):
    run = load_run(run_dir)
    assert run.dataset == "mnist" and run.classes == [str(i) for i in range(10)]
    assert run.spec == {"name": "mlp", "hidden": 8} and run.input_kind == "flat"
    assert not run.model.training
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    p = run.predict_proba(images)
    assert p.shape == (5, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    expected = run.model(run.normalize(images)).argmax(axis=1)
    assert np.array_equal(run.predict(images), expected)
    assert run.predict_proba(images[0]).shape == (1, 10)
    cfg = run.config
    assert cfg["format_version"] == FORMAT_VERSION and cfg["seed"] == 0
    assert cfg["preprocessing"] == {"name": "normalize", "mean": 0.1307, "std": 0.3081,
                                    "flatten": True}
    assert 0 <= cfg["test_accuracy"] <= 1 and cfg["hyperparameters"]["epochs"] == 1
    assert len(run.history) == 1


def save_npy(path):
    with open(path, "wb") as fh:  # np.save(path) would append ".npy" to the name
        np.save(fh, np.zeros(3))


def edit_config(run, **changes):
    path = run / "config.json"
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


def drop_architecture(run, **changes):
    """The config as a format-1 run wrote it: a preset's spec, no architecture."""
    path = run / "config.json"
    cfg = json.loads(path.read_text())
    del cfg["architecture"], cfg["input_shape"]
    cfg.update(changes, format_version=1)
    path.write_text(json.dumps(cfg))


@pytest.mark.parametrize("damage, words", [
    (lambda r: shutil.rmtree(r), "no such run directory"),
    (lambda r: (r / "config.json").unlink(), "config.json: missing"),
    (lambda r: (r / "config.json").write_text("{not json"), "config.json: invalid JSON"),
    (lambda r: (r / "config.json").write_bytes(b"\xff\xfe{}"), "not UTF-8"),
    (lambda r: (r / "config.json").write_text("[1, 2]"), "expected a JSON object"),
    (lambda r: edit_config(r, format_version=FORMAT_VERSION + 1), "made by a newer barenet"),
    (lambda r: edit_config(r, format_version="1"), "format_version"),
    (lambda r: edit_config(r, model={"name": "transformer"}), "unknown model 'transformer'"),
    (lambda r: edit_config(r, model={"name": "mlp", "hidden": 9}),
     "'architecture' does not match the model {'name': 'mlp', 'hidden': 9}"),
    (lambda r: edit_config(r, model={"name": "mlp", "hidden": 9}, architecture=None),
     "'architecture' must be a dict"),
    (lambda r: drop_architecture(r, model={"name": "mlp", "hidden": 9}),
     "0.weight has shape (8, 784), expected (9, 784)"),
    (lambda r: drop_architecture(r, model={"name": "custom"}), "unknown model 'custom'"),
    (lambda r: drop_architecture(r, classes=["a"]), "outputs [10] per sample, expected [1]"),
    (lambda r: drop_architecture(r, model={"name": "mlp", "hidden": [4096] * 4}),
     "more than the limit of 50,000,000"),
    (lambda r: edit_config(r, input_shape=[1, 28, 28]),
     "layer 0 (Linear) expects input (N, 784), gets (N, 1, 28, 28)"),
    (lambda r: edit_config(r, input_shape=[28, 28]), "'input_shape' must be [784] or"),
    (lambda r: edit_config(r, architecture={"type": "Sequential", "layers": [
        {"type": "Linear", "args": {"in_features": 784, "out_features": 10 ** 6}}]}),
     "more than the limit of 50,000,000"),
    (lambda r: edit_config(r, model={"name": "custom"}, architecture={
        "type": "Sequential", "layers": [{"type": "Linear", "args": {"in_features": 784,
                                                                     "out_features": 9}}]}),
     "outputs [9] per sample, expected [10]"),
    (lambda r: edit_config(r, model={"name": "custom"}, architecture={
        "type": "Sequential", "layers": [{"type": "os.system", "args": {}}]}),
     "unknown layer type 'os.system'"),
    (lambda r: edit_config(r, preprocessing={"mean": 0.1}), "preprocessing: missing"),
    (lambda r: edit_config(r, classes="0123456789"), "'classes' must be a list"),
    (lambda r: (r / "weights.npz").unlink(), "weights.npz: missing"),
    (lambda r: (r / "weights.npz").write_bytes(b"PK\x03\x04garbage"), "weights.npz: corrupt"),
    (lambda r: save_npy(r / "weights.npz"), "weights.npz: not an .npz"),
    (lambda r: (r / "weights.npz").write_text("{}"), "not an .npz archive (expected a zip"),
    (lambda r: os.mkfifo(r / "config.json.fifo") or (r / "config.json").unlink() or
     (r / "config.json.fifo").rename(r / "config.json"), "config.json: not a regular file"),
])
def test_load_run_problems_raise_one_checkpoint_error(copy, damage, words):
    damage(copy)
    with pytest.raises(CheckpointError) as info:
        load_run(copy)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert str(copy) in str(info.value)


def test_every_weight_problem_is_listed_in_one_message(copy):
    with np.load(copy / "weights.npz") as z:
        w = {k: z[k] for k in z.files}
    w["0.weight"] = w["0.weight"].astype(np.float64)
    w["2.bias"] = w["2.bias"][:5]
    w["extra"] = np.zeros(2)
    del w["0.bias"]
    np.savez(copy / "weights.npz", **w)
    with pytest.raises(CheckpointError) as info:
        load_run(copy)
    msg = str(info.value)
    for words in ("missing 1 key: 0.bias", "unexpected 1 key: extra",
                  "0.weight has dtype float64", "2.bias has shape (5,)"):
        assert words in msg


def test_non_finite_weights_are_refused(copy):
    with np.load(copy / "weights.npz") as z:
        w = {k: z[k] for k in z.files}
    w["2.weight"][0, 0] = np.nan
    np.savez(copy / "weights.npz", **w)
    with pytest.raises(CheckpointError, match="2.weight holds NaN"):
        load_run(copy)


# -- atomic writes -------------------------------------------------------------------------
def test_a_failing_write_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "weights.npz"
    fileio.atomic_save_npz(path, {"a": np.arange(3)})
    before = path.read_bytes()

    def half_then_disk_full(fh):
        fh.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        fileio.atomic_write(path, half_then_disk_full)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["weights.npz"]


def test_a_failing_rename_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    fileio.atomic_write_json(path, {"ok": 1})

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(fileio.os, "replace", broken_replace)
    with pytest.raises(PermissionError):
        fileio.atomic_write_json(path, {"ok": 2})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_json_is_strict(tmp_path):
    fileio.atomic_write_json(tmp_path / "a.json", {"x": float("nan"), "y": np.float32(2.5),
                                                   "z": np.arange(2)})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None, "y": 2.5, "z": [0, 1]}


def test_a_failed_checkpoint_keeps_the_previous_resume_state(copy, monkeypatch):
    """A crash while saving epoch k+1 leaves a complete, loadable state of epoch k."""
    from barenet.train import resume as resume_mod
    from barenet.train.api import _setup
    from barenet.train.config import flat_from_run_config, resolve_config

    cfg = resolve_config(flat_from_run_config(json.loads((copy / "config.json").read_text())))
    trainer = _setup(cfg, [], copy).trainer
    resume_mod.load_training_state(copy, trainer)
    before = (copy / RESUME).read_bytes()
    trainer.state.epoch += 1
    real = resume_mod.atomic_save_npz

    def fail_on_resume(path, arrays):
        if Path(path).name == RESUME:
            raise OSError(28, "No space left on device")
        return real(path, arrays)

    monkeypatch.setattr(resume_mod, "atomic_save_npz", fail_on_resume)
    with pytest.raises(OSError):
        save_training_state(copy, trainer)
    assert (copy / RESUME).read_bytes() == before
    assert read_resume_state(copy)[0]["epoch"] == 1
    assert not [p for p in os.listdir(copy) if p.endswith(".tmp")]


# -- property: corrupted bytes load or raise CheckpointError, never anything else -------------
FUZZ_EXAMPLES = int(os.environ.get("BARENET_FUZZ_EXAMPLES", 60))  # raise it to fuzz longer


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["weights.npz", "config.json"]),
       cut=st.one_of(st.none(), st.floats(0, 1)),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))
def test_corrupted_run_loads_or_raises_checkpoint_error(run_dir, which, cut, flips):
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "run"
        shutil.copytree(run_dir, dst)
        path = dst / which
        data = bytearray(path.read_bytes())
        for where, value in flips:
            data[min(int(where * len(data)), len(data) - 1)] = value
        if cut is not None:
            data = data[:int(cut * len(data))]
        path.write_bytes(bytes(data))
        try:
            run = load_run(dst)
        except CheckpointError as exc:
            assert "\n" not in str(exc)
            return
        out = run.predict_proba(np.zeros((1, 28, 28), np.uint8))
        assert out.shape == (1, 10)


@pytest.mark.parametrize("name", ["mlp", "mlp-deep", "lenet5", "cnn", "cnn-large"])
def test_every_model_saves_loads_and_predicts_identically(name, tmp_path):
    """A trained run of each architecture, loaded back, gives bit-identical logits."""
    from barenet.data.datasets import load_dataset
    from barenet.models import MODEL_NAMES

    assert name in MODEL_NAMES
    result = train_model({"model": name, "limit_train": 256, "limit_test": 64, "epochs": 1,
                          "batch_size": 64}, tmp_path / name, plots=False)
    images = load_dataset("mnist", "test").images[:64]
    run = load_run(tmp_path / name)
    assert run.spec == result.config["model"]
    expected = result.model.eval()(run.preprocess(images))
    np.testing.assert_array_equal(run.logits(images), expected)
    assert run.config["test_accuracy"] == result.test_accuracy


# -- run directories written before architectures were stored keep loading ------------------
LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_run_mlp"
#: What the legacy run predicted, when it was written, for the first 20 embedded test images.
LEGACY_PREDICTIONS = [3, 0, 2, 0, 4, 2, 4, 4, 5, 4, 0, 3, 4, 0, 2, 0, 3, 3, 0, 4]


def test_a_format_1_run_loads_and_predicts_as_when_it_was_written():
    from barenet.data.datasets import load_dataset

    config = json.loads((LEGACY / "config.json").read_text())
    assert config["format_version"] == 1 and "architecture" not in config
    run = load_run(LEGACY)
    assert run.spec == {"name": "mlp", "hidden": 8} and run.name == "mlp"
    assert run.input_shape == (784,) and run.input_kind == "flat"
    with np.load(LEGACY / "weights.npz") as z:
        state = run.model.state_dict()
        assert sorted(z.files) == sorted(state)
        assert all(np.array_equal(z[k], state[k]) and z[k].dtype == state[k].dtype for k in z.files)
    images = load_dataset("mnist", "test").images[:20]
    assert run.predict(images).tolist() == LEGACY_PREDICTIONS
    with np.load(LEGACY / "expected_logits.npz") as z:
        np.testing.assert_allclose(run.logits(images), z["logits"], rtol=1e-5, atol=1e-6)


def test_a_format_1_run_evaluates_like_its_training_did(capsys):
    from barenet.cli.main import main

    assert main(["evaluate", str(LEGACY), "--json", "--limit", "100", "--no-plots"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] == json.loads((LEGACY / "config.json").read_text())["test_accuracy"]


def test_a_new_run_stores_its_architecture_and_input(run_dir):
    from barenet.models import architecture_of

    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["architecture"] == architecture_of({"name": "mlp", "hidden": 8})
    assert cfg["input_shape"] == [784] and cfg["model"] == {"name": "mlp", "hidden": 8}
    run = load_run(run_dir)
    assert run.name == "mlp" and run.input_shape == (784,)
