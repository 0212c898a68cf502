"""Binary classification: two interleaved half-moons, a small MLP and BCEWithLogitsLoss.

    python examples/binary_classification.py            # about 10 s
    python examples/binary_classification.py --fast     # a few seconds (used by the tests)

The network outputs one logit per point; BCEWithLogitsLoss applies the sigmoid inside, in its
numerically stable form (see docs/losses.md). The figure shows the learned decision boundary.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from barenet import nn, optim


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: points (n, 2) float32 and labels (n,) in {0, 1}."""
    n0 = n // 2
    t0 = rng.uniform(0, np.pi, n0)
    t1 = rng.uniform(0, np.pi, n - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)               # class 0
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)     # class 1
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    order = rng.permutation(n)
    return x[order].astype(np.float32), y[order].astype(np.int64)


def build_model(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2, 32, rng=rng), nn.ReLU(),
        nn.Linear(32, 32, rng=rng), nn.ReLU(),
        nn.Linear(32, 1, rng=rng),                  # one logit: log(p / (1 - p))
    )


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
          rng: np.random.Generator) -> list[float]:
    """Mini-batch Adam on BCEWithLogitsLoss; returns the mean loss of each epoch."""
    criterion = nn.BCEWithLogitsLoss()
    opt = optim.Adam(model.parameters(), lr=0.01)
    targets = y.astype(np.float32)[:, None]         # (N, 1), same shape as the logits
    history = []
    for _ in range(epochs):
        model.train()
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            logits = model(x[idx])                  # (B, 1)
            losses.append(criterion(logits, targets[idx]))
            opt.zero_grad()
            model.backward(criterion.backward())
            opt.step()
        history.append(float(np.mean(losses)))
    return history


def predict_proba(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """P(class 1) for each point, (N,)."""
    model.eval()
    return nn.functional.sigmoid(model(x))[:, 0]


def plot(model: nn.Module, x: np.ndarray, y: np.ndarray, history: list[float], acc: float,
         path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 250), np.linspace(lo[1], hi[1], 250))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    prob = predict_proba(model, grid).reshape(gx.shape)

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    filled = ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.5)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=2)
    for k, colour in ((0, "#2166ac"), (1, "#b2182b")):
        ax.scatter(x[y == k, 0], x[y == k, 1], c=colour, edgecolors="white", s=18,
                   linewidths=0.6, label=f"class {k}")
    ax.legend(loc="upper right", fontsize=8)
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    ax.set_title(f"Decision boundary (black, p = 0.5); test accuracy {acc:.1%}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax2.plot(np.arange(1, len(history) + 1), history)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss (BCE with logits)")
    ax2.set_yscale("log")
    ax2.set_title("Training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "output"),
                        help="folder for the figure (default: examples/output/)")
    fast_default = os.environ.get("BARENET_FAST", "0") not in ("", "0")
    parser.add_argument("--fast", action="store_true", default=fast_default,
                        help="small data and few epochs (seconds); also set by BARENET_FAST=1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    n, epochs = (400, 60) if args.fast else (2000, 150)
    x, y = make_moons(n, noise=0.2, rng=rng)
    split = int(0.8 * n)
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

    model = build_model(rng)
    history = train(model, x_train, y_train, epochs=epochs, batch_size=64, rng=rng)
    pred = (predict_proba(model, x_test) > 0.5).astype(np.int64)
    acc = float(np.mean(pred == y_test))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "binary_classification.png"
    plot(model, x_test, y_test, history, acc, path)
    print(f"two moons: {split} training / {n - split} test points, {epochs} epochs, "
          f"final training loss {history[-1]:.4f}")
    print(f"figure: {path}")
    print(f"test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
