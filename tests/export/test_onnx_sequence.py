"""The recurrent, attention and sequence converters, one small random layer at a time:
onnxruntime's output equals barenet's within 1e-5 (float32) at the oldest and the newest opset,
the layers become the ONNX operators they should (RNN, LSTM, GRU nodes, one per stacked layer),
and inputs that do not fit are refused in one line. The named models (rnn, lstm, gru, vit) on
MNIST are in test_onnx_parity.py."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from barenet import nn  # noqa: E402
from barenet.errors import BarenetError  # noqa: E402
from barenet.export import CONVERTERS, MIN_OPSET, ExportError, max_opset, onnx_model  # noqa: E402

TOL = 1e-5
N, T, I, H = 5, 6, 4, 3          # batch, steps, input features, hidden units
OPSETS = sorted({MIN_OPSET, max_opset()})


def run(proto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def assert_same(model: nn.Module, shape: tuple[int, ...], x: np.ndarray, opset: int):
    """onnxruntime equals barenet on ``x`` within TOL; returns the graph."""
    proto = onnx_model(model.eval(), shape, opset=opset)
    got, ref = run(proto, x), model(x)
    assert got.dtype == ref.dtype == np.float32 and got.shape == ref.shape
    diff = float(np.max(np.abs(got - ref)))
    kinds = ", ".join(type(m).__name__ for m in model._modules.values())
    print(f"\n{kinds} (opset {opset}): largest |onnxruntime - barenet| = {diff:.3g}")
    assert diff <= TOL
    return proto


def randomise(model: nn.Module, rng: np.random.Generator) -> nn.Module:
    """Every parameter drawn from N(0, 0.5^2), so zero-initialised biases, class tokens and
    unit LayerNorm weights take part too."""
    for p in model.parameters():
        p.data = rng.normal(0, 0.5, p.shape).astype(np.float32)
    return model


RECURRENT = [
    (nn.RNN, {}), (nn.RNN, {"nonlinearity": "relu", "num_layers": 2}),
    (nn.RNN, {"bidirectional": True, "nonlinearity": "relu"}),
    (nn.LSTM, {}), (nn.LSTM, {"num_layers": 2, "bidirectional": True}),
    (nn.LSTM, {"bias": False, "num_layers": 3}),
    (nn.GRU, {}), (nn.GRU, {"num_layers": 2, "bidirectional": True}),
    (nn.GRU, {"bias": False, "bidirectional": True}),
]


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("cls, kwargs", RECURRENT,
                         ids=[f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for c, kw in RECURRENT])
def test_a_recurrent_layer_is_its_onnx_operator(cls, kwargs, opset, rng):
    layer = cls(I, H, rng=rng, dropout=0.5 * (kwargs.get("num_layers", 1) > 1), **kwargs)
    x = rng.normal(0, 1.5, (N, T, I)).astype(np.float32)
    proto = assert_same(nn.Sequential(layer), (T, I), x, opset)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count(cls.__name__) == layer.num_layers
    node = next(n for n in proto.graph.node if n.op_type == cls.__name__)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["direction"] == (b"bidirectional" if layer.bidirectional else b"forward")
    assert len(node.input) == 3 + layer.bias                          # X, W, R (and B)


@pytest.mark.parametrize("head, opset", [(nn.SelectStep(-1), 17), (nn.MeanOverTime(), 18)],
                         ids=["SelectStep", "MeanOverTime"])
def test_a_recurrent_classifier_reads_rows_like_the_named_models(head, opset, rng):
    """Flatten(1, 2) turns (N, 1, 8, 8) into 8 steps of 8 pixels; a bidirectional LSTM reads
    them; SelectStep(-1) takes the last step, or MeanOverTime the mean."""
    model = nn.Sequential(nn.Flatten(1, 2), nn.LSTM(8, 5, bidirectional=True, rng=rng), head,
                          nn.Linear(10, 4, rng=rng))
    x = rng.normal(size=(N, 1, 8, 8)).astype(np.float32)
    assert_same(model, (1, 8, 8), x, opset)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("heads, bias", [(1, True), (2, True), (4, False)])
def test_multihead_self_attention(heads, bias, opset, rng):
    layer = randomise(nn.MultiheadAttention(8, heads, dropout=0.3, bias=bias, rng=rng), rng)
    x = rng.normal(size=(N, T, 8)).astype(np.float32)
    assert_same(nn.Sequential(layer), (T, 8), x, opset)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-norm", "post-norm"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_a_transformer_encoder_layer(norm_first, activation, opset, rng):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1,
                                       activation=activation, norm_first=norm_first, rng=rng)
    x = rng.normal(size=(N, T, 8)).astype(np.float32)
    proto = assert_same(nn.Sequential(randomise(layer, rng)), (T, 8), x, opset)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Softmax") == 1 and ops.count("Gemm") == 4     # in, out, linear1, linear2


def test_an_encoder_layer_without_biases(rng):
    layer = nn.TransformerEncoderLayer(8, 4, dim_feedforward=12, bias=False, norm_first=True,
                                       activation="gelu", rng=rng)
    x = rng.normal(size=(N, T, 8)).astype(np.float32)
    assert_same(nn.Sequential(randomise(layer, rng)), (T, 8), x, 17)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("channels, size, patch", [(1, 8, 4), (2, 6, 3), (1, 4, 1)])
def test_patch_embedding_then_a_vision_transformer_head(channels, size, patch, opset, rng):
    model = nn.Sequential(
        nn.PatchEmbedding(size, patch, channels, embed_dim=6, rng=rng),
        nn.TransformerEncoderLayer(6, 2, dim_feedforward=8, norm_first=True, activation="gelu",
                                   rng=rng),
        nn.LayerNorm(6), nn.SelectStep(0), nn.Linear(6, 3, rng=rng))
    randomise(model, rng)
    x = rng.normal(size=(N, channels, size, size)).astype(np.float32)
    assert_same(model, (channels, size, size), x, opset)


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 17, 18, max_opset()}))
@pytest.mark.parametrize("head", [nn.SelectStep(0), nn.SelectStep(-1), nn.SelectStep(2),
                                  nn.SelectStep(-T), nn.MeanOverTime()], ids=repr)
def test_select_step_and_mean_over_time(head, opset, rng):
    x = rng.normal(size=(N, T, I)).astype(np.float32)
    proto = assert_same(nn.Sequential(head), (T, I), x, opset)
    assert [n.op_type for n in proto.graph.node] == [
        "ReduceMean" if isinstance(head, nn.MeanOverTime) else "Gather"]


@pytest.mark.parametrize("opset", OPSETS)
def test_a_model_that_begins_with_an_embedding_takes_int64_ids(opset, rng):
    model = nn.Sequential(nn.Embedding(10, 4, rng=rng), nn.GRU(4, 3, rng=rng),
                          nn.MeanOverTime(), nn.Linear(3, 2, rng=rng)).eval()
    ids = rng.integers(0, 10, (N, 7)).astype(np.int64)
    proto = onnx_model(model, (7,), opset=opset)
    (inp,) = proto.graph.input
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["input"] == "int64 ids (N, 7)" and "normalization" not in meta
    np.testing.assert_allclose(run(proto, ids), model(ids), rtol=0, atol=TOL)


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and isinstance(exc.value, BarenetError)
    return message


@pytest.mark.parametrize("model, shape, expected", [
    (nn.Sequential(nn.LSTM(5, 4)), (1, 28, 28),
     "layer 0 (LSTM) expects input (N, T, 5), gets (N, 1, 28, 28)"),
    (nn.Sequential(nn.Flatten(1, 2), nn.GRU(5, 4)), (1, 28, 28),
     "layer 1 (GRU) expects input (N, T, 5), gets (N, 28, 28)"),
    (nn.Sequential(nn.MultiheadAttention(8, 2)), (6, 4),
     "layer 0 (MultiheadAttention) expects input (N, T, 8), gets (N, 6, 4)"),
    (nn.Sequential(nn.TransformerEncoderLayer(8, 2)), (8,),
     "layer 0 (TransformerEncoderLayer) expects input (N, T, 8), gets (N, 8)"),
    (nn.Sequential(nn.PatchEmbedding(28, 7)), (784,),
     "layer 0 (PatchEmbedding) expects input (N, 1, 28, 28), gets (N, 784)"),
    (nn.Sequential(nn.SelectStep(4)), (4, 3), "layer 0 (SelectStep) expects input (N, T, F) "
                                              "with T > 4, gets (N, 4, 3)"),
    (nn.Sequential(nn.SelectStep(-5)), (4, 3), "layer 0 (SelectStep) expects input (N, T, F) "
                                               "with T > 4, gets (N, 4, 3)"),
    (nn.Sequential(nn.MeanOverTime()), (4,), "layer 0 (MeanOverTime) expects input (N, T, F)"),
    (nn.Sequential(nn.Linear(4, 4), nn.Embedding(4, 2)), (4,),
     "layer 1 (Embedding) expects integer ids as input, gets float32 (N, 4)"),
])
def test_an_input_that_does_not_fit_is_refused_in_one_line(model, shape, expected):
    with pytest.raises(ExportError) as exc:
        onnx_model(model, shape)
    assert one_line(exc).startswith(expected)


def test_ids_are_not_pixels():
    with pytest.raises(ExportError) as exc:
        onnx_model(nn.Sequential(nn.Sequential(nn.Embedding(10, 4)), nn.MeanOverTime()),
                   (784,), include_preprocessing=True)
    assert "begins with an Embedding, which takes integer ids" in one_line(exc)


def test_every_sequence_converter_is_tested_here():
    tested = {nn.RNN, nn.LSTM, nn.GRU, nn.MultiheadAttention, nn.TransformerEncoderLayer,
              nn.PatchEmbedding, nn.SelectStep, nn.MeanOverTime, nn.Embedding}
    here = {cls for cls, fn in CONVERTERS.items() if fn.__module__ in (
        "barenet.export.converters_recurrent", "barenet.export.converters_sequence")}
    assert here == tested
