"""Regression: fit a noisy non-linear curve with MSE and with MAE (L1), with outliers in the data.

    python examples/regression.py            # about 15 s
    python examples/regression.py --fast     # a few seconds (used by the tests)

Ten per cent of the training targets are corrupted by large positive errors. MSELoss chases them
(a model trained with it predicts the conditional *mean*, which the outliers drag upwards);
L1Loss is robust (it predicts the conditional *median*). Both are scored with R^2 on clean test
data. The maths: docs/losses.md.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from barenet import nn, optim
from barenet.train.metrics import r2_score


def truth(x: np.ndarray) -> np.ndarray:
    """The function to learn."""
    return np.sin(2.0 * x) + 0.3 * x


def make_data(n: int, outlier_fraction: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (n, 1), noisy y (n, 1) float32, and a mask (n,) of the points turned into outliers."""
    x = rng.uniform(-3, 3, (n, 1))
    y = truth(x) + rng.normal(0, 0.1, (n, 1))
    outlier = rng.random(n) < outlier_fraction
    y[outlier, 0] += rng.uniform(2.0, 5.0, outlier.sum())     # large, one-sided errors
    return x.astype(np.float32), y.astype(np.float32), outlier


def build_model(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, 64, rng=rng), nn.Tanh(),
                         nn.Linear(64, 64, rng=rng), nn.Tanh(),
                         nn.Linear(64, 1, rng=rng))


def train(model: nn.Module, criterion: nn.Loss, x: np.ndarray, y: np.ndarray, epochs: int,
          rng: np.random.Generator, batch_size: int = 32) -> list[float]:
    """Mini-batch Adam with a cosine-annealed learning rate; returns each epoch's mean loss."""
    opt = optim.Adam(model.parameters(), lr=0.01)
    schedule = optim.CosineAnnealingLR(opt, T_max=epochs)
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            losses.append(criterion(model(x[idx]), y[idx]))
            opt.zero_grad()
            model.backward(criterion.backward())
            opt.step()
        schedule.step()
        history.append(float(np.mean(losses)))
    return history


def plot(x: np.ndarray, y: np.ndarray, outlier: np.ndarray, fits: dict[str, nn.Module],
         scores: dict[str, float], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(-3, 3, 400, dtype=np.float32)[:, None]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.scatter(x[~outlier, 0], y[~outlier, 0], s=8, c="0.6", label="training data")
    ax.scatter(x[outlier, 0], y[outlier, 0], s=14, c="tab:red", marker="x", label="outliers")
    ax.plot(grid[:, 0], truth(grid[:, 0]), "k--", lw=1.5, label="true function")
    for (name, model), colour in zip(fits.items(), ("tab:orange", "tab:blue")):
        ax.plot(grid[:, 0], model(grid)[:, 0], c=colour, lw=2.5,
                label=f"trained with {name}: $R^2$ = {scores[name]:.3f}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("MSE vs MAE with 10% outliers ($R^2$ on clean test data)")
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "output"),
                        help="folder for the figure (default: examples/output/)")
    fast_default = os.environ.get("BARENET_FAST", "0") not in ("", "0")
    parser.add_argument("--fast", action="store_true", default=fast_default,
                        help="less data and fewer epochs (seconds); also set by BARENET_FAST=1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    n, epochs = (400, 100) if args.fast else (1000, 300)
    x, y, outlier = make_data(n, outlier_fraction=0.1, rng=rng)
    x_test = np.linspace(-3, 3, 500, dtype=np.float32)[:, None]
    y_test = truth(x_test)                                   # clean targets

    init_state = build_model(rng).state_dict()               # both start from the same weights
    fits, scores, final = {}, {}, {}
    for name, criterion in (("MSE", nn.MSELoss()), ("MAE", nn.L1Loss())):
        model = build_model(rng)
        model.load_state_dict(init_state)
        history = train(model, criterion, x, y, epochs, np.random.default_rng(args.seed + 1))
        fits[name] = model
        scores[name] = r2_score(y_test, model(x_test))
        final[name] = history[-1]
        bias = float(np.mean(model(x_test) - y_test))
        print(f"trained with {name}: final training loss {history[-1]:.4f}, "
              f"mean error on clean test data {bias:+.3f}, R^2 {scores[name]:.4f}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "regression.png"
    plot(x, y, outlier, fits, scores, path)
    print(f"{n} training points ({outlier.sum()} outliers), {epochs} epochs; R^2 from barenet.train.metrics.r2_score")
    print(f"figure: {path}")
    print(f"R^2 on clean test data: MSE {scores['MSE']:.4f}, MAE {scores['MAE']:.4f}")
    return scores


if __name__ == "__main__":
    main()
