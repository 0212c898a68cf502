"""onnxruntime, the real client, runs every exported model: its logits equal barenet's within
1e-5 on 1,000 MNIST test images (float32) and its predictions are identical, from the
normalised input and, with include_preprocessing, from raw pixels (uint8 / 255).

Every named architecture (default spec and variants: the recurrent ones stacked and
bidirectional, a ViT with ReLU) goes through a run directory; random nested Sequentials of
every built-in image layer go through the Module path at several opsets.
BatchNorm layers get non-trivial running statistics. Each test prints the largest difference.
"""
from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from short_training import fit_one_pass  # noqa: E402

from barenet import load_run, nn, save_run  # noqa: E402
from barenet.data import DataLoader, Normalize, load_dataset  # noqa: E402
from barenet.export import CONVERTERS, max_opset, onnx_model, to_onnx  # noqa: E402
from barenet.models import MODEL_NAMES, build_model, default_spec  # noqa: E402

N_IMAGES = 1000
TOL = 1e-5
MEAN, STD = 0.1307, 0.3081
VARIANTS = [(name, {}) for name in MODEL_NAMES] + [
    ("mlp", {"hidden": [64, 32]}), ("mlp-deep", {"hidden": [48], "dropout": 0.5}),
    ("lenet5", {"hidden": []}), ("cnn", {"channels": [8, 16, 16], "hidden": [], "dropout": 0.0}),
    ("cnn-large", {"channels": [8], "hidden": [24]}),
    ("rnn", {"hidden": 24, "layers": 2, "bidirectional": True}),
    ("lstm", {"hidden": 16, "layers": 2, "bidirectional": True, "dropout": 0.3}),
    ("gru", {"hidden": 16, "layers": 2, "bidirectional": True}),
    ("vit", {"dim": 32, "depth": 1, "activation": "relu", "dropout": 0.1}),
]


def variant(name: str, settings: dict):
    """One architecture to test, labelled by its name and the settings that differ."""
    label = f"{name}{'-' + '-'.join(map(str, settings)) if settings else ''}"
    return pytest.param(name, settings, id=label)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return load_dataset("mnist", "test").images[:N_IMAGES]


def run_onnx(model_or_path, x: np.ndarray) -> np.ndarray:
    """The single output of an ONNX model (a path or a ModelProto) for input ``x``."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    source = model_or_path if isinstance(model_or_path, str) else \
        model_or_path.SerializeToString()
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def assert_same(label: str, got: np.ndarray, ref: np.ndarray) -> float:
    """onnxruntime's output equals barenet's within TOL, same argmax; returns the largest
    difference (and prints it)."""
    diff = float(np.max(np.abs(got - ref)))
    print(f"\n{label}: largest |onnxruntime - barenet| = {diff:.3g} over {len(ref)} images "
          f"(outputs up to {np.max(np.abs(ref)):.3g})")
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert diff <= TOL, f"{label}: {diff}"
    np.testing.assert_array_equal(got.argmax(axis=1), ref.argmax(axis=1))
    return diff


def pixels(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / np.float32(255)


def randomise_norms(model: nn.Module, rng: np.random.Generator) -> None:
    """BatchNorm running statistics and the affine parameters of every norm layer far from
    their initial 0, 1, 1, 0."""
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            for p in (m.weight, m.bias):
                if p is not None:
                    p.data = rng.normal(1 if p is m.weight else 0, 0.4,
                                        p.shape).astype(np.float32)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            if m.track_running_stats:
                m.running_mean = rng.normal(0, 0.5, c).astype(np.float32)
                m.running_var = rng.uniform(0.2, 3.0, c).astype(np.float32)
            if m.affine:
                m.weight.data = rng.uniform(0.5, 1.5, c).astype(np.float32)
                m.bias.data = rng.normal(0, 0.3, c).astype(np.float32)


@pytest.mark.parametrize("name, settings", [variant(n, s) for n, s in VARIANTS])
def test_every_architecture_runs_the_same_in_onnxruntime(name, settings, images, tmp_path):
    rng = np.random.default_rng(7)
    model = build_model({**default_spec(name), **settings}, rng=rng).eval()
    randomise_norms(model, rng)
    save_run(tmp_path / "run", model)
    run = load_run(tmp_path / "run")
    ref = run.logits(images)
    plain = to_onnx(tmp_path / "run", tmp_path / "model.onnx")
    assert_same(f"{name} {settings or 'default'}", run_onnx(str(plain), run.preprocess(images)),
                ref)
    raw = to_onnx(run, tmp_path / "pixels.onnx", include_preprocessing=True)
    assert_same(f"{name} {settings or 'default'} from pixels", run_onnx(str(raw), pixels(images)),
                ref)


def test_a_trained_model_runs_the_same_in_onnxruntime(images):
    """A conv net trained briefly (so its logits are large and confident), via the Module
    path, from normalised input and from pixels."""
    train = load_dataset("mnist", "train")
    norm = Normalize(MEAN, STD, flatten=False)
    loader = DataLoader(train.images[:2000], train.labels[:2000], batch_size=50, shuffle=True,
                        rng=0, transform=norm)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, rng=0), nn.BatchNorm2d(8),
                          nn.LeakyReLU(0.1), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Dropout(0.2, rng=1), nn.Linear(8 * 14 * 14, 10, rng=2))
    fit_one_pass(model, loader)
    ref = model(norm(images))
    assert np.max(np.abs(ref)) > 5 and (ref.argmax(1) == load_dataset(
        "mnist", "test").labels[:N_IMAGES]).mean() > 0.8
    assert_same("trained conv net", run_onnx(onnx_model(model, (1, 28, 28)), norm(images)), ref)
    raw = onnx_model(model, (1, 28, 28), include_preprocessing=True)
    assert_same("trained conv net from pixels", run_onnx(raw, pixels(images)), ref)


# -- random custom Sequentials --------------------------------------------------------------

def _activation(rng: np.random.Generator, kind: int | None = None) -> nn.Module:
    """A random element-wise layer, or the ``kind``-th (mod 9)."""
    kind = rng.integers(9) if kind is None else kind % 9
    return [nn.ReLU(), nn.LeakyReLU(float(rng.uniform(0.01, 0.3))), nn.Sigmoid(), nn.Tanh(),
            nn.Identity(), nn.Dropout(0.3, rng=0), nn.GELU(), nn.GELU(approximate="tanh"),
            nn.ReLU()][kind]


def _image_layers(rng: np.random.Generator, seed: int) -> tuple[list[nn.Module], int]:
    """Conv / BatchNorm2d / pooling blocks on 28x28, then Flatten; returns layers, features.
    The kind of pooling and of Flatten alternate with ``seed``, so that every kind is met."""
    layers: list[nn.Module] = []
    c, size = 1, 28
    for block_number in range(rng.integers(1, 3)):
        k, s = int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 2]))
        p = int(rng.integers(0, 3))
        out = int(rng.integers(2, 7))
        block = [nn.Conv2d(c, out, k, stride=s, padding=p, bias=bool(rng.integers(2)), rng=rng)]
        c, size = out, (size + 2 * p - k) // s + 1
        if rng.random() < 0.6:
            block.append(nn.BatchNorm2d(c, track_running_stats=bool(rng.random() < 0.8),
                                        affine=bool(rng.random() < 0.8)))
        elif rng.random() < 0.5:  # over each channel's (H, W), or over the whole (C, H, W)
            dims = (size, size) if rng.random() < 0.5 else (c, size, size)
            block.append(nn.LayerNorm(dims, elementwise_affine=bool(rng.random() < 0.8)))
        block.append(_activation(rng))
        if size >= 4 and rng.random() < 0.8:
            k = int(rng.choice([2, 3]))
            s = None if rng.random() < 0.5 else int(rng.choice([1, 2]))
            p = int(rng.integers(0, k // 2 + 1))
            pool = (nn.MaxPool2d, nn.AvgPool2d)[(seed // 2 + block_number) % 2]
            block.append(pool(k, stride=s, padding=p))
            size = (size + 2 * p - k) // (s or k) + 1
        layers.append(nn.Sequential(*block) if rng.random() < 0.5 else block[0])
        layers += [] if isinstance(layers[-1], nn.Sequential) else block[1:]
    if seed % 4 == 1:  # (N, C, H*W) through BatchNorm1d over channels, then (N, C*H*W)
        layers += [nn.Flatten(2, -1), nn.BatchNorm1d(c), nn.Flatten()]
    else:
        layers.append(nn.Flatten(-3, 3))
    return layers, c * size * size


def random_model(seed: int) -> tuple[nn.Sequential, tuple[int, ...]]:
    """A random valid Sequential (nested ones included) over (N, 784) or (N, 1, 28, 28)."""
    rng = np.random.default_rng(seed)
    if seed % 2:
        layers, features = _image_layers(rng, seed)
        shape: tuple[int, ...] = (1, 28, 28)
    else:
        layers, features, shape = [], 784, (784,)
    for _ in range(rng.integers(0, 3)):
        width = int(rng.integers(4, 40))
        block = [nn.Linear(features, width, bias=bool(rng.integers(2)), rng=rng)]
        if rng.random() < 0.5:
            block.append(nn.BatchNorm1d(width, track_running_stats=bool(rng.random() < 0.8)))
        elif rng.random() < 0.5:
            block.append(nn.LayerNorm(width, bias=bool(rng.random() < 0.7)))
        block.append(_activation(rng))
        layers.append(nn.Sequential(*block))
        features = width
    layers += [_activation(rng, kind=seed), nn.Linear(features, 10, rng=rng)]  # all 9 kinds met
    if rng.random() < 0.3:
        layers.append(nn.Softmax(dim=int(rng.choice([1, -1]))))
    model = nn.Sequential(*layers).eval()
    randomise_norms(model, rng)
    return model, shape


SEEDS = range(12)


def test_the_random_models_meet_every_exportable_image_layer():
    """Every layer of converters.py (the sequence layers' are in test_onnx_sequence.py)."""
    image = {cls for cls, fn in CONVERTERS.items() if fn.__module__ == "barenet.export.converters"}
    met = {type(m) for seed in SEEDS for m in random_model(seed)[0].modules()}
    assert image <= met, sorted(c.__name__ for c in image - met)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_sequentials_run_the_same_in_onnxruntime(seed, images):
    model, shape = random_model(seed)
    opset = [13, 17, 18, max_opset()][seed % 4]
    norm = Normalize(MEAN, STD, flatten=len(shape) == 1)
    ref = model(norm(images))
    preprocessing = seed % 3 == 0
    proto = onnx_model(model, shape, opset=opset, include_preprocessing=preprocessing)
    x = pixels(images) if preprocessing else norm(images)
    kinds = sorted({type(m).__name__ for m in model.modules()})
    assert_same(f"random model {seed} (opset {opset}, {', '.join(kinds)})", run_onnx(proto, x),
                ref)
