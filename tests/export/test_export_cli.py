"""``barenet export`` on a run that ``barenet train`` really trained: onnxruntime gives its
logits within 1e-5 and its predictions on 1,000 test images, from normalised input and from
pixels; every refusal (not a run, an output that cannot be written or already exists, an
unknown format, an opset out of range, onnx missing) is one line, exit 1, nothing lost."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from error_checks import one_error_line

from barenet import load_run
from barenet.cli.main import main
from barenet.data import load_dataset

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """An MLP trained for one short epoch by ``barenet train`` (with its test accuracy)."""
    out = tmp_path_factory.mktemp("export") / "mlp"
    rc = main(["train", "--epochs", "1", "--limit-train", "2000", "--limit-test", "1000",
               "--hidden", "64", "--out", str(out), "--quiet", "--no-plots"])
    assert rc == 0
    return out


def session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("preprocessing", [False, True], ids=["normalised", "pixels"])
def test_a_trained_run_exports_and_onnxruntime_agrees(preprocessing, trained, tmp_path, capsys):
    out = tmp_path / "mlp.onnx"
    extra = ["--include-preprocessing"] if preprocessing else []
    assert main(["export", str(trained), "--format", "ONNX", "--out", str(out), *extra]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out} (") and "-> 'logits' (N, 10)" in printed
    run = load_run(trained)
    images = load_dataset("mnist", "test").images[:1000]
    ref = run.logits(images)
    x = images.astype(np.float32) / np.float32(255) if preprocessing else run.preprocess(images)
    s = session(out)
    got = s.run(None, {s.get_inputs()[0].name: x})[0]
    diff = float(np.max(np.abs(got - ref)))
    print(f"\nbarenet train's mlp ({'pixels' if preprocessing else 'normalised'}): largest "
          f"|onnxruntime - barenet| = {diff:.3g} (logits up to {np.max(np.abs(ref)):.3g})")
    assert diff <= 1e-5 and np.array_equal(got.argmax(1), ref.argmax(1))
    meta = s.get_modelmeta().custom_metadata_map
    config = json.loads((trained / "config.json").read_text())
    assert float(meta["test_accuracy"]) == config["test_accuracy"] and meta["model"] == "mlp"
    assert json.loads(meta["classes"]) == run.classes and meta["dataset"] == "mnist"
    assert s.get_inputs()[0].name == ("pixels" if preprocessing else "input")


def test_opset_is_honoured(trained, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(trained), "--out", str(out), "--opset", "13"]) == 0
    assert "ONNX opset 13" in capsys.readouterr().out
    assert onnx.load(str(out)).opset_import[0].version == 13


def test_a_directory_that_is_not_a_run(tmp_path, capsys):
    rc = main(["export", str(tmp_path), "--out", str(tmp_path / "m.onnx")])
    assert "is not a barenet run directory" in one_error_line(capsys, rc, stdout_empty=True)
    assert not (tmp_path / "m.onnx").exists()


def test_an_existing_file_is_kept_without_overwrite(trained, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"precious")
    rc = main(["export", str(trained), "--out", str(out)])
    assert "already exists" in one_error_line(capsys, rc, stdout_empty=True)
    assert out.read_bytes() == b"precious"
    assert main(["export", str(trained), "--out", str(out), "--overwrite"]) == 0
    assert onnx.load(str(out)).graph.output[0].name == "logits"


@pytest.mark.parametrize("where, expected", [
    ("file/m.onnx", "is not a directory"), ("no/such/m.onnx", "no such directory"),
    ("", "is a directory"),
])
def test_an_output_that_cannot_be_written(where, expected, trained, tmp_path, capsys):
    (tmp_path / "file").write_bytes(b"x")
    rc = main(["export", str(trained), "--out", str(tmp_path / where)])
    assert expected in one_error_line(capsys, rc, stdout_empty=True)
    assert (tmp_path / "file").read_bytes() == b"x"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_write_the_system_refuses(trained, capsys):
    rc = main(["export", str(trained), "--out", "/proc/barenet-export-test.onnx"])
    line = one_error_line(capsys, rc, stdout_empty=True)
    assert "/proc/barenet-export-test.onnx: cannot write" in line


@pytest.mark.parametrize("args, expected", [
    (["--format", "tflite"], "--format: unknown format 'tflite', expected one of: onnx"),
    (["--opset", "12"], "opset 12 is not supported, expected an integer from 13 to"),
    (["--opset", "1000"], "opset 1000 is not supported"),
    (["--opset", "seventeen"], "--opset: expected an integer, got 'seventeen'"),
])
def test_a_bad_option(args, expected, trained, tmp_path, capsys):
    rc = main(["export", str(trained), "--out", str(tmp_path / "m.onnx"), *args])
    assert expected in one_error_line(capsys, rc, stdout_empty=True)
    assert not (tmp_path / "m.onnx").exists()


def test_without_onnx_the_command_says_what_to_install(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)   # as if it were not installed
    rc = main(["export", str(trained), "--out", str(tmp_path / "m.onnx")])
    assert 'pip install "barenet[export]"' in one_error_line(capsys, rc, stdout_empty=True)
