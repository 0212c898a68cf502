"""Write your own layer: a Swish activation with a learnable slope, its backward pass, and proof.

    python examples/custom_layer.py          # a few seconds
    python examples/custom_layer.py --fast   # used by the tests

Swish (also called SiLU when beta = 1) is y = x * sigmoid(beta * x). Here beta is a trainable
parameter, one per feature, so the layer has both an input gradient and a parameter gradient to
get right. The steps:

1. Subclass ``nn.Module``; assign ``nn.Parameter`` attributes (they are registered, so
   ``parameters()``, ``state_dict()`` and optimizers find them).
2. ``forward(x)``: compute the output and cache what the backward pass needs.
3. ``backward(g)``: given g = dL/dy, ADD dL/dbeta into ``beta.grad`` and RETURN dL/dx.
4. Prove it with ``barenet.gradcheck.check_module`` in float64 -- and see it catch a bug.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from barenet import nn, optim
from barenet.gradcheck import check_module
from barenet.nn import functional as F


class Swish(nn.Module):
    """y = x * sigmoid(beta * x), element-wise, with a learnable ``beta`` per feature.

    Shapes: x (N, F) -> y (N, F); beta (F,).
    With s = sigmoid(beta x) and sigmoid' = s (1 - s), the product and chain rules give
        dy/dx    = s + x * s (1 - s) * beta
        dy/dbeta = x * s (1 - s) * x
    so for upstream g = dL/dy:  dL/dx = g * dy/dx  and  dL/dbeta = sum over the batch of
    g * dy/dbeta.
    """

    def __init__(self, num_features: int, beta: float = 1.0, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        self.num_features = num_features
        self.beta = nn.Parameter(np.full(num_features, beta, dtype=dtype))
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, (2,), f"(N, {self.num_features})", size=(1, self.num_features))
        s = F.sigmoid(self.beta.data * x)       # the stable sigmoid: no overflow for any x
        self._cache = (x, s)                     # all the backward pass needs
        return x * s

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)         # a clear error if forward was never called
        x, s = self._cache
        ds = s * (1 - s)                         # sigmoid'(beta x)
        self.beta.accumulate_grad(np.sum(grad_out * x * x * ds, axis=0))  # summed over N
        return grad_out * (s + self.beta.data * x * ds)

    def extra_repr(self) -> str:
        return f"{self.num_features}"


class BuggySwish(Swish):
    """The same layer with a classic slip: the inner derivative beta of sigmoid(beta x) is
    forgotten in dy/dx. Invisible while beta == 1 -- which is exactly where training starts."""

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        x, s = self._cache
        ds = s * (1 - s)
        self.beta.accumulate_grad(np.sum(grad_out * x * x * ds, axis=0))
        return grad_out * (s + x * ds)           # BUG: should be s + beta * x * ds


def gradchecks(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """Relative errors of both layers, at beta = 1 and at random beta, in float64."""
    x = rng.standard_normal((6, 4))
    betas = {"beta = 1": np.ones(4), "random beta": rng.uniform(0.3, 3.0, 4)}
    results = {}
    for label, beta in betas.items():
        for cls in (Swish, BuggySwish):
            layer = cls(4, dtype=np.float64)
            layer.beta.data[:] = beta
            results[f"{cls.__name__}, {label}"] = check_module(layer, x, rng=1).errors
    return results


def make_rings(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings: (n, 2) float32 points, labels (n,) in {0, 1}."""
    y = rng.integers(0, 2, n)
    radius = np.where(y == 0, 0.5, 1.0) + rng.normal(0, 0.08, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x.astype(np.float32), y.astype(np.int64)


def train_with_swish(n: int, epochs: int, rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """Train Linear-Swish-Linear-Swish-Linear on the rings; (test accuracy, learned betas)."""
    x, y = make_rings(n, rng)
    split = int(0.8 * n)
    model = nn.Sequential(nn.Linear(2, 16, rng=rng), Swish(16),
                          nn.Linear(16, 16, rng=rng), Swish(16),
                          nn.Linear(16, 2, rng=rng))
    criterion = nn.CrossEntropyLoss()
    opt = optim.Adam(model.parameters(), lr=0.02)     # beta is trained like any weight
    for _ in range(epochs):
        order = rng.permutation(split)
        for start in range(0, split, 32):
            idx = order[start:start + 32]
            criterion(model(x[idx]), y[idx])
            opt.zero_grad()
            model.backward(criterion.backward())
            opt.step()
    acc = float(np.mean(model(x[split:]).argmax(axis=1) == y[split:]))
    return acc, model[1].beta.data.copy()


def plot(results: dict[str, dict[str, float]], tolerance: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    t = np.linspace(-5, 5, 400)
    for beta in (0.5, 1.0, 2.0, 5.0):
        ax.plot(t, t * F.sigmoid(beta * t), label=f"beta = {beta:g}")
    ax.plot(t, np.maximum(t, 0), "k:", lw=1, label="ReLU (beta -> infinity)")
    ax.set_title("Swish: x * sigmoid(beta x)")
    ax.set_ylim(-1, 5)
    ax.legend(fontsize=8)
    names = list(results)
    errors = [max(r.values()) for r in results.values()]
    colours = ["tab:red" if e > tolerance else "tab:green" for e in errors]
    ax2.barh(range(len(names)), errors, color=colours)
    ax2.set_yticks(range(len(names)), names, fontsize=8)
    ax2.set_xscale("log")
    ax2.set_xlim(1e-12, 10)
    ax2.invert_yaxis()
    ax2.axvline(tolerance, c="k", ls="--", lw=1)
    ax2.text(tolerance * 1.5, -0.6, "tolerance", fontsize=8)
    ax2.set_xlabel("largest relative error, analytic vs numerical gradient")
    ax2.set_title("check_module (float64): red = caught")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "output"),
                        help="folder for the figure (default: examples/output/)")
    fast_default = os.environ.get("BARENET_FAST", "0") not in ("", "0")
    parser.add_argument("--fast", action="store_true", default=fast_default,
                        help="a shorter training run (seconds); also set by BARENET_FAST=1")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    results = gradchecks(rng)
    tolerance = 1e-6
    for name, errors in results.items():
        verdict = "passed" if max(errors.values()) <= tolerance else "FAILED"
        detail = ", ".join(f"{k} {v:.1e}" for k, v in errors.items())
        print(f"gradcheck {name:24s} {verdict:6s} ({detail})")
    print("note: the bug hides at beta = 1, where the missing factor is 1: check generic values")

    acc, betas = train_with_swish(*((400, 40) if args.fast else (1000, 100)), rng=rng)
    print(f"two rings with Swish layers: test accuracy {acc:.4f}; learned beta of the first "
          f"Swish ranges {betas.min():.2f}..{betas.max():.2f}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "custom_layer.png"
    plot(results, tolerance, path)
    print(f"figure: {path}")
    good = max(results["Swish, random beta"].values())
    bad = max(results["BuggySwish, random beta"].values())
    print(f"gradcheck max error: correct {good:.1e}, buggy {bad:.1e}")
    return {"correct": good, "buggy": bad, "accuracy": acc}


if __name__ == "__main__":
    main()
