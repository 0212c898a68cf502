"""A model as data: describe -> JSON -> build round trips for every built-in layer, refusal of
layers that are not built in, and hostile descriptions refused in one line before allocation."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barenet import nn
from barenet.nn import architecture
from barenet.nn.architecture import (
    MAX_NUMBERS,
    ArchitectureError,
    build,
    count_numbers,
    describe,
    validate,
)
from barenet.nn.architecture_shapes import infer_input_shape, output_shape
from barenet.nn.registry import is_builtin, registered


def image_model(*layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 3, 3, rng=0), *layers)


#: One model per built-in layer type, with arguments away from their defaults, and the input
#: it takes per sample.
CASES = {
    "Linear": (lambda: nn.Sequential(nn.Linear(12, 5, bias=False, rng=1)), (12,)),
    "Conv2d": (lambda: nn.Sequential(nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0),
                                               rng=1)), (2, 9, 8)),
    "MaxPool2d": (lambda: image_model(nn.MaxPool2d(3, stride=2, padding=1)), (1, 11, 11)),
    "AvgPool2d": (lambda: image_model(nn.AvgPool2d((2, 3), stride=(1, 2))), (1, 10, 12)),
    "BatchNorm1d": (lambda: nn.Sequential(nn.BatchNorm1d(6, eps=1e-3, momentum=None)), (6,)),
    "BatchNorm2d": (lambda: image_model(nn.BatchNorm2d(3, momentum=0.3, affine=False)),
                    (1, 7, 7)),
    "BatchNorm2d-untracked": (lambda: image_model(nn.BatchNorm2d(3, track_running_stats=False)),
                              (1, 6, 6)),
    "Dropout": (lambda: nn.Sequential(nn.Linear(4, 4, rng=1), nn.Dropout(0.3)), (4,)),
    "LeakyReLU": (lambda: nn.Sequential(nn.LeakyReLU(0.2)), (5,)),
    "Softmax": (lambda: image_model(nn.Softmax(dim=1)), (1, 6, 6)),
    "Flatten": (lambda: image_model(nn.Flatten(start_dim=2)), (1, 6, 6)),
    "ReLU": (lambda: nn.Sequential(nn.ReLU()), (5,)),
    "Sigmoid": (lambda: nn.Sequential(nn.Sigmoid()), (5,)),
    "Tanh": (lambda: nn.Sequential(nn.Tanh()), (5,)),
    "Identity": (lambda: nn.Sequential(nn.Identity()), (5,)),
    "GELU": (lambda: nn.Sequential(nn.GELU("tanh")), (5,)),
    "LayerNorm": (lambda: nn.Sequential(nn.LayerNorm((3, 4), eps=1e-3, bias=False)), (2, 3, 4)),
    "Embedding": (lambda: nn.Sequential(nn.Embedding(7, 3, rng=1)), (5,)),
    "RNN": (lambda: nn.Sequential(nn.RNN(4, 5, num_layers=2, nonlinearity="relu",
                                         bidirectional=True, rng=1)), (6, 4)),
    "LSTM": (lambda: nn.Sequential(nn.LSTM(4, 5, num_layers=2, bias=False, dropout=0.2,
                                           rng=1)), (6, 4)),
    "GRU": (lambda: nn.Sequential(nn.GRU(4, 3, rng=1)), (6, 4)),
    "MultiheadAttention": (lambda: nn.Sequential(
        nn.MultiheadAttention(8, 2, dropout=0.1, bias=False, rng=1)), (5, 8)),
    "TransformerEncoderLayer": (lambda: nn.Sequential(nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, rng=1)), (5, 8)),
    "PatchEmbedding": (lambda: nn.Sequential(nn.PatchEmbedding(8, 4, 2, 6, rng=1)), (2, 8, 8)),
    "SelectStep": (lambda: nn.Sequential(nn.LSTM(3, 4, rng=1), nn.SelectStep(0)), (5, 3)),
    "MeanOverTime": (lambda: nn.Sequential(nn.MeanOverTime()), (5, 3)),
    "vit": (lambda: nn.Sequential(
        nn.PatchEmbedding(28, 7, 1, 16, rng=1),
        nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, norm_first=True, rng=2),
        nn.LayerNorm(16), nn.SelectStep(0), nn.Linear(16, 10, rng=3)), (1, 28, 28)),
    "nested": (lambda: nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 4, 3, bias=False, rng=2), nn.BatchNorm2d(4), nn.ReLU()),
        nn.Sequential(nn.Sequential(nn.MaxPool2d(2), nn.Flatten()), nn.Dropout(0.1)),
        nn.Linear(4 * 4 * 4, 3, rng=3), nn.Sequential()), (1, 10, 10)),
    "readme": (lambda: nn.Sequential(
        nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.LeakyReLU(0.1), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(8 * 13 * 13, 10)), (1, 28, 28)),
}


#: Every built-in layer, from the registry.
LAYERS = {name: cls for name, cls in registered().items() if is_builtin(cls)}


def randomize(model: nn.Module, rng: np.random.Generator) -> None:
    """New random values in every parameter and floating buffer (running variances > 0)."""
    state = {k: (rng.uniform(0.5, 1.5, v.shape) if "var" in k else rng.standard_normal(v.shape))
             .astype(v.dtype) if v.dtype.kind == "f" else v
             for k, v in model.state_dict().items()}
    model.load_state_dict(state)


def test_every_built_in_layer_has_a_description():
    layers = {name for name in nn.__all__ if isinstance(getattr(nn, name), type)
              and issubclass(getattr(nn, name), nn.Module)
              and not issubclass(getattr(nn, name), nn.Loss)} - {"Module", "Sequential"}
    assert layers == set(LAYERS)
    described = {c.split("-")[0] for c in CASES} - {"nested", "readme", "vit"}
    assert described == set(LAYERS)


@pytest.mark.parametrize("case", CASES)
def test_round_trip_is_bit_identical(case, rng):
    make, shape = CASES[case]
    model = make()
    randomize(model, rng)
    desc = describe(model)
    text = json.dumps(desc, allow_nan=False)
    assert validate(json.loads(text)) == desc          # canonical: nothing left to fill in
    again = build(json.loads(text), rng=123)
    assert describe(again) == desc and repr(again) == repr(model)
    before, after = model.state_dict(), again.state_dict()
    assert list(after) == list(before)
    assert all(after[k].shape == before[k].shape and after[k].dtype == before[k].dtype
               for k in before)
    again.load_state_dict(before)
    x = rng.integers(0, 7, (3, *shape)) if case == "Embedding" else \
        rng.standard_normal((3, *shape)).astype(np.float32)
    model.eval(), again.eval()
    assert np.array_equal(again(x), model(x))
    assert output_shape(desc, shape) == model(x).shape[1:]
    params, buffers = count_numbers(desc)
    assert params == model.num_parameters()
    assert buffers == sum(b.size for b in model.buffers())


def test_the_json_reads_like_the_constructor_calls():
    desc = describe(CASES["readme"][0]())
    assert desc["type"] == "Sequential" and len(desc["layers"]) == 7
    assert desc["layers"][0] == {"type": "Conv2d", "args": {
        "in_channels": 1, "out_channels": 8, "kernel_size": [3, 3], "stride": [1, 1],
        "padding": [0, 0], "bias": True}}
    assert desc["layers"][2] == {"type": "LeakyReLU", "args": {"negative_slope": 0.1}}
    assert desc["layers"][5] == {"type": "Dropout", "args": {"p": 0.2}}
    assert desc["layers"][6]["args"] == {"in_features": 1352, "out_features": 10, "bias": True}


def test_build_is_reproducible_and_defaults_fill_in():
    short = {"type": "Sequential", "layers": [
        {"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 2, "kernel_size": 3}},
        {"type": "MaxPool2d", "args": {"kernel_size": 2}}, {"type": "ReLU"}]}
    a, b = build(short, rng=5), build(short, rng=5)
    assert all(np.array_equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    full = validate(short)
    assert full["layers"][1]["args"] == {"kernel_size": [2, 2], "stride": [2, 2],
                                         "padding": [0, 0]}
    assert full["layers"][2] == {"type": "ReLU", "args": {}}


class MyLayer(nn.Module):
    def forward(self, x):
        return x


class MyLinear(nn.Linear):
    pass


@pytest.mark.parametrize("model, words", [
    (nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), MyLayer())), "layer 1.1 (MyLayer)"),
    (nn.Sequential(nn.Flatten(), MyLinear(2, 3)), "layer 1 (MyLinear, a subclass of Linear)"),
    (MyLayer(), "the model (MyLayer)"),
    (nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.Module())), "layer 0.1 (Module)"),
])
def test_a_layer_that_is_not_built_in_is_refused_in_one_line(model, words):
    with pytest.raises(ArchitectureError) as info:
        describe(model)
    msg = str(info.value)
    assert words in msg and "is not a registered layer" in msg and "\n" not in msg


def test_an_attribute_out_of_range_is_named():
    layer = nn.Dropout(0.5)
    layer.p = 7.0
    with pytest.raises(ArchitectureError, match=r"layer 1 \(Dropout\): p must be a number"):
        describe(nn.Sequential(nn.ReLU(), layer))


def nest(depth: int) -> dict:
    desc: dict = {"type": "ReLU"}
    for _ in range(depth):
        desc = {"type": "Sequential", "layers": [desc]}
    return desc


def lin(**args) -> dict:
    return {"type": "Sequential", "layers": [{"type": "Linear", "args": args}]}


HOSTILE = [
    ({"type": "Sequential", "layers": [{"type": "Lambda", "args": {}}]}, "unknown layer type"),
    ({"type": "Sequential", "layers": [{"type": "os.system"}]}, "unknown layer type 'os.system'"),
    ({"type": ["Linear"]}, "unknown layer type"),
    ({"layers": []}, "unknown layer type None"),
    ([{"type": "ReLU"}], "expected an object with a 'type', got list"),
    ("Sequential", "expected an object"),
    ({"type": "Sequential", "layers": {"0": {"type": "ReLU"}}}, "'layers' (a list)"),
    ({"type": "Sequential", "layers": [], "args": {}}, "expected keys 'type' and 'layers'"),
    ({"type": "ReLU", "args": [1]}, "expected keys 'type' and 'args'"),
    ({"type": "ReLU", "code": "rm -rf /"}, "expected keys 'type' and 'args'"),
    ({"type": "ReLU", "args": {"inplace": True}}, "unknown argument 'inplace'"),
    (lin(in_features=3), "missing argument 'out_features'"),
    (lin(in_features=True, out_features=2), "in_features must be an int"),
    (lin(in_features="3", out_features=2), "in_features must be an int"),
    (lin(in_features=3.0, out_features=2), "in_features must be an int"),
    (lin(in_features=-3, out_features=2), "in_features must be an int"),
    (lin(in_features=3, out_features=2, bias=1), "bias must be true or false"),
    (lin(in_features=10 ** 400, out_features=2), "in_features must be an int"),
    (lin(in_features=784, out_features=10 ** 6), f"more than the limit of {MAX_NUMBERS:,}"),
    ({"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 2, "kernel_size": [3, 3, 3]}},
     "kernel_size must be an int"),
    ({"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 2, "kernel_size": 10 ** 6}},
     "kernel_size must be an int in [1, 64]"),
    ({"type": "MaxPool2d", "args": {"kernel_size": 2, "padding": -1}}, "padding must be an int"),
    ({"type": "MaxPool2d", "args": {"kernel_size": 2, "padding": 2}},
     "padding must be at most half"),
    ({"type": "Dropout", "args": {"p": float("nan")}}, "p must be a number in [0, 1]"),
    ({"type": "Dropout", "args": {"p": 1.5}}, "p must be a number in [0, 1]"),
    ({"type": "LeakyReLU", "args": {"negative_slope": float("inf")}}, "must be a finite number"),
    ({"type": "BatchNorm1d", "args": {"num_features": 4, "eps": 0}}, "eps must be a number"),
    ({"type": "BatchNorm1d", "args": {"num_features": 4, "momentum": "fast"}}, "momentum must"),
    ({"type": "Softmax", "args": {"dim": 10 ** 9}}, "dim must be an int in [-8, 8]"),
    ({"type": "MultiheadAttention", "args": {"embed_dim": 10, "num_heads": 3}},
     "10 features cannot be split into 3 heads"),
    ({"type": "PatchEmbedding", "args": {"image_size": 28, "patch_size": 5}},
     "image_size 28 is not a multiple of patch_size 5"),
    ({"type": "LSTM", "args": {"input_size": 4, "hidden_size": 4, "num_layers": 1000}},
     "num_layers must be an int in [1, 64]"),
    ({"type": "RNN", "args": {"input_size": 4, "hidden_size": 4, "nonlinearity": "sigmoid"}},
     "nonlinearity must be one of 'tanh', 'relu'"),
    ({"type": "LayerNorm", "args": {"normalized_shape": []}}, "normalized_shape must be"),
    ({"type": "LSTM", "args": {"input_size": 4, "hidden_size": 4, "batch_first": False}},
     "only batch_first=True is supported"),
    ({"type": "Embedding", "args": {"num_embeddings": 1 << 24, "embedding_dim": 1 << 24}},
     "more than the limit"),
    (nest(40), "nested deeper than 16"),
    ({"type": "Sequential", "layers": [{"type": "ReLU"}] * 5000}, "more than 1000 layers"),
]


@pytest.mark.parametrize("desc, words", HOSTILE)
def test_hostile_descriptions_are_refused_in_one_line(desc, words, monkeypatch):
    def no_allocation(*args, **kwargs):
        raise AssertionError("a layer was built from a description that should be refused")

    if "limit" in words:  # the size is refused from the description alone
        monkeypatch.setattr(architecture, "_build", no_allocation)
    with pytest.raises(ArchitectureError) as info:
        build(desc)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert len(str(info.value)) < 400


def test_many_small_layers_can_still_be_too_many_parameters():
    wide = {"type": "Linear", "args": {"in_features": 4096, "out_features": 4096}}
    with pytest.raises(ArchitectureError, match="parameters and buffers, more than the limit"):
        validate({"type": "Sequential", "layers": [wide] * 4})


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
                    | st.sampled_from(["Sequential", "Linear", "Conv2d", "ReLU", "Flatten"]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["type", "args", "layers", "in_features", "p",
                                         "kernel_size", "x"]), inner, max_size=4),
                    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(desc=JSON)
def test_any_json_builds_or_raises_architecture_error(desc):
    try:
        checked = validate(desc)
    except ArchitectureError as exc:
        assert "\n" not in str(exc)
        return
    assert validate(checked) == checked
    try:
        build(checked)
    except ArchitectureError:
        pass


@pytest.mark.parametrize("layers, shape", [
    ([nn.Linear(784, 10)], (784,)),
    ([nn.ReLU(), nn.Dropout(), nn.Linear(784, 10)], (784,)),
    ([nn.Conv2d(3, 4, 3)], (3, 28, 28)),
    ([nn.Flatten(), nn.Linear(784, 10)], (1, 28, 28)),
    ([nn.Sequential(nn.MaxPool2d(2)), nn.Flatten()], (1, 28, 28)),
    ([nn.BatchNorm1d(784)], (784,)),
    ([nn.BatchNorm2d(1)], (1, 28, 28)),
    ([nn.ReLU(), nn.Tanh()], None),
    ([nn.PatchEmbedding(28, 7, 1, 8)], (1, 28, 28)),
    ([nn.Dropout(), nn.LSTM(28, 8)], (28, 28)),
    ([nn.Embedding(5, 3), nn.LSTM(3, 8)], None),
])
def test_the_input_shape_is_read_from_the_first_layers(layers, shape):
    assert infer_input_shape(describe(nn.Sequential(*layers)), (28, 28)) == shape


@pytest.mark.parametrize("layers, shape, words", [
    ([nn.Flatten(), nn.Linear(100, 10)], (1, 28, 28),
     "layer 1 (Linear) expects input (N, 100), gets (N, 784)"),
    ([nn.Conv2d(3, 4, 3)], (1, 28, 28), "layer 0 (Conv2d) expects input (N, 3, H, W)"),
    ([nn.Linear(784, 10), nn.MaxPool2d(2)], (784,), "layer 1 (MaxPool2d) expects input (N, C,"),
    ([nn.MaxPool2d(5), nn.MaxPool2d(5), nn.MaxPool2d(5)], (1, 28, 28), "with H, W >= (5, 5)"),
    ([nn.Flatten(start_dim=0)], (1, 28, 28), "start_dim >= 1"),
    ([nn.Softmax(dim=3)], (784,), "with a dimension 3"),
    ([nn.Sequential(nn.Linear(784, 8)), nn.BatchNorm2d(8)], (784,),
     "layer 1 (BatchNorm2d) expects input (N, 8, H, W), gets (N, 8)"),
    ([nn.Conv2d(1, 1, 1, padding=64)] * 20, (1, 28, 28), "values per sample, more than"),
    ([nn.LSTM(28, 8)], (784,), "layer 0 (LSTM) expects input (N, T, 28), gets (N, 784)"),
    ([nn.Flatten(1, 2), nn.GRU(20, 8)], (1, 28, 28), "layer 1 (GRU) expects input (N, T, 20)"),
    ([nn.PatchEmbedding(28, 7, 1, 8)], (3, 28, 28), "expects input (N, 1, 28, 28)"),
    ([nn.Flatten(1, 2), nn.LayerNorm(5)], (1, 28, 28), "expects input (N, *, 5)"),
    ([nn.Linear(784, 8), nn.SelectStep()], (784,), "expects input (N, T, F)"),
    ([nn.Flatten(1, 2), nn.SelectStep(28)], (1, 28, 28), "with T > 28"),
    ([nn.Flatten(1, 2), nn.MultiheadAttention(14, 2)], (1, 28, 28),
     "layer 1 (MultiheadAttention) expects input (N, T, 14), gets (N, 28, 28)"),
])
def test_shapes_that_do_not_fit_are_named(layers, shape, words):
    with pytest.raises(ArchitectureError) as info:
        output_shape(describe(nn.Sequential(*layers)), shape)
    assert words in str(info.value) and "\n" not in str(info.value)
