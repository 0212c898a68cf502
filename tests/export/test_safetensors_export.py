"""``barenet export RUN --format safetensors``: for every preset, the file that
``safetensors.torch.load_file`` reads loads strictly into the PyTorch twin (built with other
weights), and the twin then computes barenet's logits; the metadata says what the weights
are; refusals are one line and leave the existing file as it was."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from error_checks import one_error_line

from barenet import load_run, save_run
from barenet.cli.main import main
from barenet.data import Normalize, load_dataset
from barenet.export.safetensors_export import safetensors_metadata, to_safetensors
from barenet.io import load_safetensors, save_safetensors
from barenet.models import MODEL_NAMES, build_model, input_shape
from barenet.nn.architecture import describe
from barenet.train.imported import EXPORT_KEYS

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
from barenet.compare.twin import to_torch  # noqa: E402 - needs torch


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_dataset("mnist", "test").images[:16]


def trained_a_little(name: str, images: np.ndarray) -> object:
    """Preset ``name`` with its running statistics moved by two training-mode batches (so
    BatchNorm's buffers and batch counters are not their initial values)."""
    model = build_model(name, rng=3)
    x = Normalize(0.1307, 0.3081, flatten=len(input_shape(name)) == 1)
    model.train()
    for _ in range(2):
        model(x(images))
    return model.eval()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_pytorch_twin_loads_the_file_strictly_and_computes_the_same(name, images,
                                                                         tmp_path, capsys):
    run_dir = save_run(tmp_path / "run", trained_a_little(name, images), dataset="mnist")
    out = tmp_path / f"{name}.safetensors"
    assert main(["export", str(run_dir), "--format", "safetensors", "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out} (")
    state = st_torch.load_file(str(out))
    twin = to_torch(build_model(name, rng=99))          # other weights, same layers
    assert list(state) != [] and set(state) == set(twin.state_dict())
    twin.load_state_dict(state, strict=True)
    twin.eval()
    run = load_run(run_dir)
    x = run.preprocess(images)
    with torch.no_grad():
        got = twin(torch.from_numpy(x)).numpy()
    want = run.logits(images)
    print(f"\n{name}: largest |PyTorch twin - barenet| = {np.max(np.abs(got - want)):.2g}")
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)
    for key, value in run.model.state_dict().items():
        assert state[key].dtype == (torch.int64 if value.dtype == np.int64 else torch.float32)
        np.testing.assert_array_equal(state[key].numpy(), value)
    counters = [k for k in state if k.endswith("num_batches_tracked")]
    assert all(int(state[k]) == 2 and state[k].shape == () for k in counters)
    assert bool(counters) == (name in ("mlp-deep", "cnn-large"))


def test_a_planted_rename_fails_strict_loading(images, tmp_path):
    """The check above can fail: one key named differently and PyTorch refuses the file."""
    model = trained_a_little("mlp-deep", images)
    path = to_safetensors(model, tmp_path / "m.safetensors")
    tensors, meta = load_safetensors(path)
    tensors["1.running_average"] = tensors.pop("1.running_mean")
    save_safetensors(tensors, path, meta)
    with pytest.raises(RuntimeError, match="running_mean"):
        to_torch(build_model("mlp-deep", rng=0)).load_state_dict(
            st_torch.load_file(str(path)), strict=True)


def test_the_metadata_says_what_the_weights_are(images, tmp_path):
    model = trained_a_little("cnn", images)
    run_dir = save_run(tmp_path / "run", model, dataset="fashion-mnist",
                       extra={"test_accuracy": 0.875})
    path = to_safetensors(run_dir, tmp_path / "cnn.safetensors")
    _, meta = load_safetensors(path)
    config = json.loads((run_dir / "config.json").read_text())
    assert meta["format"] == "pt" and meta["barenet_export"] == "1"
    assert json.loads(meta["architecture"]) == config["architecture"]
    assert json.loads(meta["input_shape"]) == [1, 28, 28] and meta["dataset"] == "fashion-mnist"
    assert json.loads(meta["classes"]) == config["classes"] and meta["model"] == "custom"
    assert json.loads(meta["preprocessing"]) == config["preprocessing"]
    assert json.loads(meta["test_accuracy"]) == 0.875
    assert meta == safetensors_metadata(load_run(run_dir)) and set(meta) == set(EXPORT_KEYS)


def test_a_module_exports_its_architecture_only(tmp_path):
    model = build_model("mlp", rng=0)
    _, meta = load_safetensors(to_safetensors(model, tmp_path / "m.safetensors"))
    assert set(meta) == {"format", "barenet_version", "barenet_export", "model",
                         "architecture"}
    assert json.loads(meta["architecture"]) == describe(model)


@pytest.fixture
def a_run(tmp_path) -> Path:
    return save_run(tmp_path / "run", build_model("mlp", rng=0), dataset="mnist")


def test_the_suffix_chooses_the_format(a_run, tmp_path, capsys):
    out = tmp_path / "w.SafeTensors"
    assert main(["export", str(a_run), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "safetensors): 4 tensors, 159,010 numbers of custom on mnist" in line
    assert set(load_safetensors(out)[0]) == {"0.weight", "0.bias", "2.weight", "2.bias"}


@pytest.mark.parametrize("args, expected", [
    (["--opset", "13"], "--opset is an ONNX option; a .safetensors file holds only the weights"),
    (["--include-preprocessing"], "--include-preprocessing is an ONNX option"),
    (["--format", "npz"], "--format: unknown format 'npz', expected one of: onnx, safetensors"),
])
def test_a_bad_option(args, expected, a_run, tmp_path, capsys):
    out = tmp_path / "w.safetensors"
    rc = main(["export", str(a_run), "--format", "safetensors", "--out", str(out), *args])
    assert expected in one_error_line(capsys, rc, stdout_empty=True)
    assert not out.exists()


def test_an_existing_file_is_kept_without_overwrite(a_run, tmp_path, capsys):
    out = tmp_path / "w.safetensors"
    out.write_bytes(b"precious")
    rc = main(["export", str(a_run), "--out", str(out)])
    assert "already exists" in one_error_line(capsys, rc, stdout_empty=True)
    assert out.read_bytes() == b"precious"
    assert main(["export", str(a_run), "--out", str(out), "--overwrite"]) == 0
    assert load_safetensors(out)[1]["format"] == "pt" and capsys.readouterr().out
    rc = main(["export", str(a_run), "--out", str(tmp_path), "--format", "safetensors"])
    assert "is a directory" in one_error_line(capsys, rc, stdout_empty=True)
    rc = main(["export", str(a_run), "--out", str(tmp_path / "no" / "w.safetensors")])
    assert "w.safetensors: cannot write" in one_error_line(capsys, rc, stdout_empty=True)


def test_a_directory_that_is_not_a_run(tmp_path, capsys):
    rc = main(["export", str(tmp_path), "--out", str(tmp_path / "w.safetensors")])
    assert "is not a barenet run directory" in one_error_line(capsys, rc, stdout_empty=True)
    assert not (tmp_path / "w.safetensors").exists()
