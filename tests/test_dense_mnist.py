"""End to end: the classic 784-200-10 MLP, trained with barenet's layers on the embedded MNIST,
must reach at least 97.5% test accuracy. Slow (a minute or two): run with ``pytest -m slow``."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from barenet import nn

MNIST = Path(__file__).resolve().parents[1] / "src" / "barenet" / "_data" / "mnist"
MEAN, STD = 0.1307, 0.3081


def read_images(name: str) -> np.ndarray:
    with gzip.open(MNIST / name, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784)


def read_labels(name: str) -> np.ndarray:
    with gzip.open(MNIST / name, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


def normalise(images: np.ndarray) -> np.ndarray:
    return ((images.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)


class MomentumSGD:
    """v <- momentum v + g; p <- p - lr v (PyTorch's rule), for when barenet.optim lacks SGD."""

    def __init__(self, params, lr: float, momentum: float) -> None:
        self.params, self.lr, self.momentum = params, lr, momentum
        self.velocity = [np.zeros_like(p.data) for p in params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity):
            v *= self.momentum
            v += p.grad
            p.data -= self.lr * v


def make_optimizer(params, lr: float, momentum: float):
    try:
        from barenet.optim import SGD
    except ImportError:
        return MomentumSGD(params, lr, momentum)
    return SGD(params, lr=lr, momentum=momentum)


@pytest.mark.slow
def test_dense_mnist_reaches_97_5_percent():
    x_train = normalise(read_images("train-images-idx3-ubyte.gz"))
    y_train = read_labels("train-labels-idx1-ubyte.gz")
    x_test = normalise(read_images("t10k-images-idx3-ubyte.gz"))
    y_test = read_labels("t10k-labels-idx1-ubyte.gz")
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)

    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(784, 200, rng=rng), nn.ReLU(), nn.Linear(200, 10, rng=rng))
    criterion = nn.CrossEntropyLoss()
    opt = make_optimizer(model.parameters(), lr=0.05, momentum=0.9)
    batch = 64
    for epoch in range(4):
        if epoch == 3:  # a short final phase at a lower rate
            for group in getattr(opt, "param_groups", [{}]):
                group["lr"] = 0.01
            if isinstance(opt, MomentumSGD):
                opt.lr = 0.01
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            logits = model(x_train[idx])
            loss = criterion(logits, y_train[idx])
            assert np.isfinite(loss)
            opt.zero_grad()
            model.backward(criterion.backward())
            opt.step()
        assert logits.dtype == np.float32 and model[0].weight.dtype == np.float32

    model.eval()
    predictions = np.concatenate([model(x_test[i:i + 1000]).argmax(axis=1)
                                  for i in range(0, len(x_test), 1000)])
    accuracy = float(np.mean(predictions == y_test))
    print(f"dense MNIST test accuracy: {accuracy:.4f}")
    assert accuracy >= 0.975, f"test accuracy {accuracy:.4f} < 0.975"
