"""barenet.export's Python side: the graph and its metadata, every opset's decompositions, the
table of converters, and the one-line errors (a layer without a converter, a wrong input
shape, bad options, an output that exists), with nothing on disk lost."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from barenet import __version__, nn, save_run  # noqa: E402
from barenet.errors import BarenetError  # noqa: E402
from barenet.export import (  # noqa: E402
    CONVERTERS,
    DEFAULT_OPSET,
    MIN_OPSET,
    ExportError,
    Value,
    max_opset,
    onnx_model,
    register,
    to_onnx,
)
from barenet.models import build_model  # noqa: E402
from barenet.nn.registry import is_builtin, registered  # noqa: E402


def run(proto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and isinstance(exc.value, BarenetError)
    return message


class Swish(nn.Module):
    """A layer of one's own: x * sigmoid(x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x / (1 + np.exp(-x))


def test_every_built_in_layer_has_a_converter():
    """The image classifiers' layers and the sequence models' (RNN, LSTM, GRU, attention...)."""
    layers = {name: cls for name, cls in registered().items() if is_builtin(cls)}
    missing = [name for name, cls in layers.items() if cls not in CONVERTERS]
    assert not missing and len(layers) >= 25 and nn.Sequential in CONVERTERS


def test_the_graph_of_a_run_and_its_metadata(tmp_path):
    model = build_model("mlp-deep", rng=0).eval()
    save_run(tmp_path / "run", model, extra={"test_accuracy": 0.9812})
    proto = onnx.load(str(to_onnx(tmp_path / "run", tmp_path / "m.onnx")))
    onnx.checker.check_model(proto, full_check=True)
    graph = proto.graph
    assert [n.op_type for n in graph.node] == ["Gemm", "BatchNormalization", "Relu"] * 2 + ["Gemm"]
    (inp,), (out,) = graph.input, graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert (inp.name, dims) == ("input", ["N", 784])
    assert (out.name, [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]) == \
        ("logits", ["N", 10])
    assert {i.name for i in graph.initializer} == set(model.state_dict()) - {
        "1.num_batches_tracked", "5.num_batches_tracked"}
    assert proto.opset_import[0].version == DEFAULT_OPSET and proto.producer_name == "barenet"
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["dataset"] == "mnist" and json.loads(meta["classes"]) == list("0123456789")
    assert meta["barenet_version"] == __version__ and float(meta["test_accuracy"]) == 0.9812
    assert meta["model"] == "custom" and json.loads(meta["normalization"]) == \
        {"mean": 0.1307, "std": 0.3081}
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["dataset"] == "mnist"


def test_a_test_accuracy_that_is_not_a_fraction_is_left_out(tmp_path):
    save_run(tmp_path / "run", build_model("mlp", rng=0), extra={"test_accuracy": 7})
    meta = {p.key: p.value for p in onnx_model(tmp_path / "run").metadata_props}
    assert "test_accuracy" not in meta and meta["model"] == "custom"


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 17, 18, 20, max_opset()}))
def test_every_opsets_operators_and_decompositions_agree(opset, rng):
    """Batch statistics (ReduceMean: axes an attribute before 18, an input from 18), GELU
    (Erf or Tanh before 20, Gelu from 20) and LayerNorm (decomposed before 17)."""
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, rng=0), nn.BatchNorm2d(3, track_running_stats=False),
        nn.GELU(), nn.LayerNorm((26, 26)), nn.Flatten(2), nn.BatchNorm1d(3, affine=False,
                                                                        track_running_stats=False),
        nn.GELU(approximate="tanh"), nn.Flatten(), nn.LayerNorm(3 * 26 * 26, bias=False),
        nn.Linear(3 * 26 * 26, 10, rng=1)).eval()
    x = rng.normal(size=(64, 1, 28, 28)).astype(np.float32)
    proto = onnx_model(model, (1, 28, 28), opset=opset)
    assert proto.opset_import[0].version == opset
    ops = {n.op_type for n in proto.graph.node}
    assert ("Gelu" in ops) == (opset >= 20) and ("LayerNormalization" in ops) == (opset >= 17)
    np.testing.assert_allclose(run(proto, x), model(x), rtol=0, atol=1e-5)


def test_a_model_that_computes_nothing_still_has_an_output():
    proto = onnx_model(nn.Sequential(nn.Dropout(0.5), nn.Identity()), (5,))
    x = np.arange(10, dtype=np.float32).reshape(2, 5)
    np.testing.assert_array_equal(run(proto, x), x)


@pytest.mark.parametrize("model, path, name", [
    (nn.Sequential(nn.Linear(784, 10), Swish()), "1", "Swish"),
    (nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(784, 10), Swish())), "1.1", "Swish"),
    (Swish(), None, "Swish"),
])
def test_a_layer_without_a_converter_is_named_in_one_line(model, path, name, tmp_path):
    with pytest.raises(ExportError) as exc:
        to_onnx(model, tmp_path / "m.onnx", input_shape=(784,))
    where = f"layer {path}" if path else "the model"
    assert one_line(exc).startswith(f"{where} ({name}) cannot be exported to ONNX")
    assert "Linear" in str(exc.value) and not (tmp_path / "m.onnx").exists()


def test_a_subclass_of_a_built_in_layer_is_not_taken_for_it():
    class Clipped(nn.ReLU):
        def forward(self, x):
            return np.minimum(super().forward(x), 6)

    with pytest.raises(ExportError) as exc:
        onnx_model(nn.Sequential(Clipped()), (4,))
    assert "layer 0 (Clipped, a subclass of ReLU) cannot be exported" in one_line(exc)


def test_a_sequence_layer_is_refused_where_it_cannot_work():
    """An Embedding reads integer ids: after another layer its input is float."""
    model = nn.Sequential(nn.Flatten(1, 2), nn.Embedding(10, 4))
    with pytest.raises(ExportError) as exc:
        onnx_model(model, (1, 28, 28))
    assert one_line(exc).startswith("layer 1 (Embedding) expects integer ids as input")


def test_register_adds_a_converter_for_a_layer_of_ones_own(monkeypatch, rng):
    def swish(layer, g, x, path):
        return Value(g.node("Mul", [x.name, g.node("Sigmoid", [x.name], path)], path), x.shape)

    monkeypatch.setitem(CONVERTERS, Swish, CONVERTERS.get(Swish))
    register(Swish)(swish)
    model = nn.Sequential(nn.Linear(6, 4, rng=0), Swish())
    x = rng.normal(size=(5, 6)).astype(np.float32)
    np.testing.assert_allclose(run(onnx_model(model, (6,)), x), model(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("model, shape, expected", [
    (nn.Sequential(nn.Linear(784, 10)), (1, 28, 28),
     "layer 0 (Linear) expects input (N, 784), gets (N, 1, 28, 28)"),
    (nn.Sequential(nn.Conv2d(3, 4, 3)), (1, 28, 28), "layer 0 (Conv2d) expects input (N, 3, H, W)"),
    (nn.Sequential(nn.MaxPool2d(5)), (1, 4, 4), "layer 0 (MaxPool2d) expects input (N, C, H, W) "
                                                 "with H, W >= (5, 5)"),
    (nn.Sequential(nn.Flatten(0)), (1, 28, 28), "layer 0 (Flatten) expects input start_dim >= 1"),
    (nn.Sequential(nn.Softmax(dim=3)), (10,), "layer 0 (Softmax) expects input with a dimension 3"),
    (nn.Sequential(nn.LayerNorm(5)), (4,), "layer 0 (LayerNorm) expects input (N, *, 5)"),
    (nn.Linear(4, 2), [4.5], "input_shape: expected the shape of one sample"),
    (nn.Linear(4, 2), None, "input_shape: expected the shape of one sample"),
])
def test_an_input_that_does_not_fit_is_refused_in_one_line(model, shape, expected):
    with pytest.raises(ExportError) as exc:
        onnx_model(model, shape)
    assert one_line(exc).startswith(expected)


@pytest.mark.parametrize("kwargs, expected", [
    ({"opset": MIN_OPSET - 1}, f"opset {MIN_OPSET - 1} is not supported"),
    ({"opset": 10_000}, "opset 10000 is not supported"),
    ({"opset": True}, "opset True is not supported"),
    ({"opset": "17"}, "opset '17' is not supported"),
    ({"input_shape": (3, 8, 8), "include_preprocessing": True},
     "include_preprocessing needs a model that takes one-channel pixels"),
    ({"classes": ["a", "b"]}, "the model outputs (N, 10), expected (N, 2)"),
    ({"classes": "ab"}, "classes must be a non-empty list of names"),
])
def test_bad_options_are_refused_in_one_line(kwargs, expected, tmp_path):
    args = {"input_shape": (784,), **kwargs}
    model = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(args["input_shape"])), 10))
    with pytest.raises(ExportError) as exc:
        to_onnx(model, tmp_path / "m.onnx", **args)
    assert one_line(exc).startswith(expected) and not list(tmp_path.iterdir())


def test_options_that_come_from_the_run_are_refused_with_a_run(tmp_path):
    save_run(tmp_path / "run", build_model("mlp", rng=0))
    with pytest.raises(ExportError) as exc:
        onnx_model(tmp_path / "run", input_shape=(784,))
    assert "input_shape come from the run" in one_line(exc)


def test_an_existing_file_is_replaced_only_when_asked_and_only_by_a_good_export(tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"precious")
    good, bad = nn.Sequential(nn.Linear(4, 10)), nn.Sequential(nn.Linear(4, 10), Swish())
    with pytest.raises(ExportError) as exc:
        to_onnx(good, out, input_shape=(4,))
    assert one_line(exc) == (f"{out}: already exists; choose another name, or replace it with "
                             "--overwrite (overwrite=True in Python)")
    with pytest.raises(ExportError):
        to_onnx(bad, out, input_shape=(4,), overwrite=True)
    assert out.read_bytes() == b"precious" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    to_onnx(good, out, input_shape=(4,), overwrite=True)
    assert onnx.load(str(out)).graph.node[0].op_type == "Gemm"
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]   # no temporary file left


@pytest.mark.parametrize("where, expected", [
    ("dir", "is a directory, expected the name of the .onnx file"),
    ("file/m.onnx", "is not a directory, cannot write m.onnx there"),
    ("missing/m.onnx", "no such directory, cannot write m.onnx there"),
])
def test_an_output_that_cannot_be_written_is_refused_in_one_line(where, expected, tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(ExportError) as exc:
        to_onnx(nn.Linear(4, 10), tmp_path / where, input_shape=(4,))
    assert expected in one_line(exc)


def test_without_onnx_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)   # as if it were not installed
    with pytest.raises(ExportError) as exc:
        to_onnx(nn.Linear(4, 10), tmp_path / "m.onnx", input_shape=(4,))
    assert 'pip install "barenet[export]"' in one_line(exc) and 'pip install -e ".[export]"' in \
        str(exc.value)
