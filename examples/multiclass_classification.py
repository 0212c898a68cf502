"""Multiclass classification: points on K interleaved spiral arms, softmax + CrossEntropyLoss.

    python examples/multiclass_classification.py              # 3 arms, about 15 s
    python examples/multiclass_classification.py --classes 5  # harder
    python examples/multiclass_classification.py --fast       # a few seconds (used by the tests)

The network outputs K logits per point; CrossEntropyLoss fuses log-softmax and the negative
log-likelihood, so its gradient is (softmax - one_hot) / N (see docs/softmax-cross-entropy.md).
The figure colours the plane by the predicted class.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from barenet import nn, optim
from barenet.nn import functional as F


def make_spirals(per_class: int, classes: int, noise: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` spiral arms of ``per_class`` points each: (N, 2) float32, labels (N,) int64."""
    xs, ys = [], []
    for k in range(classes):
        r = np.linspace(0.05, 1.0, per_class)                       # radius grows along the arm
        theta = np.linspace(0, 3 * np.pi, per_class) + 2 * np.pi * k / classes   # 1.5 turns
        arm = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
        xs.append(arm + rng.normal(0, noise, arm.shape))
        ys.append(np.full(per_class, k))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def build_model(classes: int, rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(2, 64, rng=rng), nn.ReLU(),
        nn.Linear(64, 64, rng=rng), nn.ReLU(),
        nn.Linear(64, classes, rng=rng),            # K logits; softmax lives inside the loss
    )


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
          rng: np.random.Generator) -> list[float]:
    """Mini-batch Adam on CrossEntropyLoss, the learning rate annealed along a cosine from 0.01
    to 0 over the epochs; returns the mean loss of each epoch."""
    criterion = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=0.01)
    schedule = optim.CosineAnnealingLR(opt, T_max=epochs)
    history = []
    for _ in range(epochs):
        model.train()
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            logits = model(x[idx])                  # (B, K)
            losses.append(criterion(logits, y[idx]))
            opt.zero_grad()
            model.backward(criterion.backward())
            opt.step()
        schedule.step()                             # once per epoch
        history.append(float(np.mean(losses)))
    return history


def plot(model: nn.Module, x: np.ndarray, y: np.ndarray, classes: int, acc: float,
         history: list[float], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    colours = plt.get_cmap("tab10").colors[:classes]
    gx, gy = np.meshgrid(np.linspace(-1.3, 1.3, 260), np.linspace(-1.3, 1.3, 260))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    model.eval()
    prob = F.softmax(model(grid), axis=1)
    region = prob.argmax(axis=1).reshape(gx.shape)
    confidence = prob.max(axis=1).reshape(gx.shape)

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    ax.imshow(region, origin="lower", extent=(-1.3, 1.3, -1.3, 1.3),
              cmap=ListedColormap(colours), alpha=0.35, interpolation="nearest")
    ax.contour(gx, gy, confidence, levels=[0.6, 0.9], colors="k", linewidths=0.5, alpha=0.5)
    ax.scatter(x[:, 0], x[:, 1], c=[colours[k] for k in y], edgecolors="k", s=12, linewidths=0.3)
    ax.set_title(f"Decision regions of {classes} classes; test accuracy {acc:.1%}")
    ax.set_aspect("equal")
    ax2.plot(np.arange(1, len(history) + 1), history)
    ax2.set_yscale("log")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss (cross-entropy)")
    ax2.axhline(np.log(classes), ls="--", c="grey", lw=1)
    ax2.text(1, np.log(classes) * 1.05, "log K: uniform guess", color="grey", fontsize=8)
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
                        help="less data and fewer epochs (seconds); also set by BARENET_FAST=1")
    parser.add_argument("--classes", type=int, default=3, help="number of spiral arms (>= 2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.classes < 2:
        parser.error("--classes: expected at least 2")

    rng = np.random.default_rng(args.seed)
    per_class, epochs = (200, 80) if args.fast else (500, 200)
    x, y = make_spirals(per_class, args.classes, noise=0.04, rng=rng)
    split = int(0.8 * len(x))
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]

    model = build_model(args.classes, rng)
    history = train(model, x_train, y_train, epochs=epochs, batch_size=64, rng=rng)
    model.eval()
    pred = model(x_test).argmax(axis=1)
    acc = float(np.mean(pred == y_test))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "multiclass_classification.png"
    plot(model, x_test, y_test, args.classes, acc, history, path)
    print(f"{args.classes} spirals: {split} training / {len(x) - split} test points, "
          f"{epochs} epochs, final training loss {history[-1]:.4f} "
          f"(a uniform guess scores {np.log(args.classes):.4f})")
    print(f"figure: {path}")
    print(f"test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
