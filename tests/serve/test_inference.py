"""What a prediction reports, on small hand-built networks: which layers are shown, how feature
maps are cut down for the page, the first-layer weights, and that inference runs under a lock."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from barenet import nn
from barenet.data.transforms import Normalize
from barenet.errors import ImageError
from barenet.nn.activations import ReLU
from barenet.nn.functional import softmax
from barenet.serve.inference import Predictor, layer_chain, parse_pixels, summarize

CLASSES = [str(k) for k in range(10)]


def fake_run(model: nn.Module, flatten: bool) -> SimpleNamespace:
    return SimpleNamespace(model=model, normalize=Normalize(0.1307, 0.3081, flatten),
                           classes=CLASSES, config={}, run_dir="runs/x", dataset="mnist")


def cnn(rng: np.random.Generator) -> nn.Module:
    from barenet.nn.conv import Conv2d
    from barenet.nn.pooling import MaxPool2d
    from barenet.nn.shape import Flatten

    return nn.Sequential(Conv2d(1, 20, 3, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
                         nn.Sequential(nn.Linear(20 * 13 * 13, 32, rng=rng), ReLU()),
                         nn.Linear(32, 10, rng=rng))


def digit(rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((28, 28), np.uint8)
    img[6:22, 12:16] = rng.integers(100, 256, (16, 4))
    return img


def test_mlp_shows_the_hidden_layer_after_its_activation(rng) -> None:
    model = nn.Sequential(nn.Linear(784, 50, rng=rng), ReLU(), nn.Linear(50, 10, rng=rng))
    run = fake_run(model, True)
    image = digit(rng)
    doc = Predictor(run).predict(image)
    logits = model(run.normalize(image[None]))
    assert doc["prediction"] == int(np.argmax(logits))
    np.testing.assert_allclose(doc["probabilities"], softmax(logits.astype(np.float64))[0], atol=1e-6)
    assert list(doc["activations"]) == ["1 ReLU"]
    act = doc["activations"]["1 ReLU"]
    assert act["kind"] == "dense" and act["shape"] == [50] and act["label"] == "Linear → ReLU"
    hidden = np.maximum(run.normalize(image[None]) @ model[0].weight.data.T + model[0].bias.data, 0)
    np.testing.assert_allclose(act["values"], hidden[0], atol=1e-4)


def test_cnn_shows_maps_then_dense_and_nested_sequentials_are_walked(rng) -> None:
    pytest.importorskip("barenet.nn.conv")
    model = cnn(rng)
    names = [name for name, _ in layer_chain(model)]
    assert names == ["0", "1", "2", "3", "4.0", "4.1", "5"]
    p = Predictor(fake_run(model, False))
    doc = p.predict(digit(rng))
    acts = doc["activations"]
    assert list(acts) == ["2 MaxPool2d", "4.1 ReLU"]  # one per block; Flatten skipped
    maps = acts["2 MaxPool2d"]
    assert maps["kind"] == "maps" and maps["full_shape"] == [20, 13, 13]
    assert maps["shape"] == [16, 13, 13]  # the first 16 of 20 maps
    assert maps["label"] == "Conv2d → ReLU → MaxPool2d"
    assert acts["4.1 ReLU"]["kind"] == "dense" and acts["4.1 ReLU"]["shape"] == [32]
    assert acts["4.1 ReLU"]["label"] == "Linear → ReLU"
    w = p.weights()
    assert w["kind"] == "conv" and w["shape"] == [20, 3, 3] and w["count"] == 20
    layers = p.describe()
    assert [d["output_shape"] for d in layers][:3] == [[20, 26, 26], [20, 26, 26], [20, 13, 13]]
    assert sum(d["parameters"] for d in layers) == model.num_parameters()


def test_blocks_of_a_deeper_cnn(rng) -> None:
    """Conv/BN/ReLU blocks, pooling after BN, dropout and flatten before the classifier."""
    from barenet.nn.conv import Conv2d
    from barenet.nn.dropout import Dropout
    from barenet.nn.norm import BatchNorm1d, BatchNorm2d
    from barenet.nn.pooling import MaxPool2d
    from barenet.nn.shape import Flatten

    model = nn.Sequential(Conv2d(1, 4, 3, padding=1, rng=rng), BatchNorm2d(4), ReLU(),
                          Conv2d(4, 8, 3, padding=1, rng=rng), BatchNorm2d(8), MaxPool2d(2),
                          ReLU(), Flatten(), Dropout(0.3), nn.Linear(8 * 14 * 14, 16, rng=rng),
                          BatchNorm1d(16), ReLU(), Dropout(0.3), nn.Linear(16, 10, rng=rng))
    doc = Predictor(fake_run(model, False)).predict(digit(rng))
    got = {k: (v["label"], v["full_shape"]) for k, v in doc["activations"].items()}
    assert got == {"2 ReLU": ("Conv2d → BatchNorm2d → ReLU", [4, 28, 28]),
                   "6 ReLU": ("Conv2d → BatchNorm2d → MaxPool2d → ReLU", [8, 14, 14]),
                   "11 ReLU": ("Linear → BatchNorm1d → ReLU", [16])}
    assert doc["activations"]["2 ReLU"]["shape"] == [4, 28, 28]  # small enough: not pooled


def test_summarize_limits_and_pools() -> None:
    maps = np.arange(4 * 9 * 9, dtype=np.float32).reshape(4, 9, 9)
    s = summarize(maps, max_values=100, max_maps=2)
    assert s["shape"] == [2, 5, 5] and s["full_shape"] == [4, 9, 9]
    assert len(s["values"]) == 50 and s["values"][0] == pytest.approx(maps[0, :2, :2].mean())
    dense = summarize(np.linspace(-1, 1, 5000))
    assert dense["kind"] == "dense" and len(dense["values"]) == 4096
    assert dense["min"] == -1.0


@pytest.mark.parametrize("pixels,fragment", [
    ([0] * 10, "784"), ("x", "list"), ([0] * 783 + [300], "0..255"), ([0] * 784, "no ink"),
    ([0] * 783 + [float("nan")], "finite"), ([0] * 783 + [False], "numbers"),
])
def test_parse_pixels_rejects(pixels, fragment) -> None:
    with pytest.raises(ImageError, match=fragment):
        parse_pixels(pixels)


def test_parse_pixels_accepts_flat_and_rows() -> None:
    flat = list(range(0, 784))
    img = parse_pixels([v % 256 for v in flat])
    assert img.dtype == np.uint8 and img.shape == (28, 28)
    assert np.array_equal(parse_pixels(img.tolist()), img)


def test_inference_is_serialised(rng) -> None:
    """A forward pass never runs in two threads at once (layers cache their input)."""
    import threading

    model = nn.Sequential(nn.Linear(784, 20, rng=rng), ReLU(), nn.Linear(20, 10, rng=rng))
    p = Predictor(fake_run(model, True))
    inside, overlap = [0], []
    original = model[0].forward

    def watched(x):
        inside[0] += 1
        overlap.append(inside[0])
        out = original(x)
        threading.Event().wait(0.002)
        inside[0] -= 1
        return out

    model[0].forward = watched
    threads = [threading.Thread(target=p.predict, args=(digit(rng),)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(overlap) == 8 and max(overlap) == 1
