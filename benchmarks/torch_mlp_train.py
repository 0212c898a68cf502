"""Train the classic MLP on MNIST in plain PyTorch, as ``barenet train`` does by default.

The PyTorch side of the peak-memory comparison in ``run.py``: the same network (784-200-10),
optimizer (SGD, lr 0.05, momentum 0.9, weight decay 5e-4), cosine schedule stepped per batch,
batch size 64, 10% validation split evaluated every epoch, a checkpoint of weights and
optimizer state after every epoch, and a test evaluation at the end. The images stay uint8 and
each batch is normalised on the fly, as barenet does. Imports nothing from barenet.

Run: ``python benchmarks/torch_mlp_train.py [--epochs 1] [--out DIR] [--quiet]``
"""
from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

MEAN, STD = 0.1307, 0.3081


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip-compressed or not) as a NumPy array of unsigned bytes."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_dir() -> Path:
    """The MNIST files shipped inside the barenet package (found without importing it)."""
    spec = importlib.util.find_spec("barenet")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torch_mlp_train.py: pass --data-dir (barenet's MNIST not found)")
    return Path(list(spec.submodule_search_locations)[0]) / "_data" / "mnist"


def load(data_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz")
    return torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float32 (B, 784) standardised pixels."""
    return (x.reshape(len(x), -1).float() / 255.0 - MEAN) / STD


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum(int((model(normalize(x[i:i + 1000])).argmax(1) == y[i:i + 1000]).sum())
                  for i in range(0, len(x), 1000))
    model.train()
    return correct / max(len(x), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--out", default=None, help="directory for the checkpoints")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--limit-train", type=int, default=None)
    ap.add_argument("--limit-test", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="default: the CPUs available")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    torch.manual_seed(args.seed)
    data_dir = args.data_dir or mnist_dir()
    x, y = load(data_dir, "train")
    xt, yt = load(data_dir, "test")
    x, y = x[:args.limit_train], y[:args.limit_train]
    xt, yt = xt[:args.limit_test], yt[:args.limit_test]
    perm = torch.randperm(len(x))
    n_val = round(0.1 * len(x))
    xv, yv, x, y = x[perm[:n_val]], y[perm[:n_val]], x[perm[n_val:]], y[perm[n_val:]]

    model = nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 10))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    steps = -(-len(x) // args.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps)
    loss_fn = nn.CrossEntropyLoss()
    out = Path(args.out) if args.out else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(x))
        for i in range(0, len(x), args.batch_size):
            idx = order[i:i + args.batch_size]
            loss = loss_fn(model(normalize(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        val_acc = evaluate(model, xv, yv)
        if out:
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(), "epoch": epoch}, out / "checkpoint.pt")
        if not args.quiet:
            print(f"epoch {epoch}: val accuracy {val_acc:.4f}")
    test_acc = evaluate(model, xt, yt)
    if not args.quiet:
        print(f"test accuracy {test_acc:.4f} after {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
