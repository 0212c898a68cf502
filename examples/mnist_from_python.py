"""The whole MNIST workflow through the Python API (no CLI): data, model, training loop,
evaluation, confusion matrix, saving it as a run directory and loading it back.

    python examples/mnist_from_python.py                    # 3 epochs, about 97.5 %, < 1 minute
    python examples/mnist_from_python.py --optimizer adam   # Adam instead of SGD + momentum
    python examples/mnist_from_python.py --fast             # a subset, a few seconds (tests)

Uses the MNIST copy embedded in the package (no download). Everything random is drawn from one
seeded generator, so two runs with the same --seed print the same numbers.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from barenet import load_run, nn, optim, save_run
from barenet.data import DataLoader, Normalize, load_dataset, random_split
from barenet.train.metrics import accuracy, confusion_matrix


def build_model(hidden: int, rng: np.random.Generator) -> nn.Sequential:
    """The classic MLP: 784 pixels -> hidden ReLU units -> 10 logits."""
    return nn.Sequential(nn.Linear(784, hidden, rng=rng), nn.ReLU(), nn.Linear(hidden, 10, rng=rng))


def predict_logits(model: nn.Module, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, 10) and labels (N,) over a whole loader, in evaluation mode."""
    model.eval()
    logits, labels = [], []
    for x, y in loader:
        logits.append(model(x))
        labels.append(y)
    return np.concatenate(logits), np.concatenate(labels)


def train_one_epoch(model: nn.Module, loader: DataLoader, criterion: nn.Loss,
                    opt: optim.Optimizer) -> tuple[float, float]:
    """One pass over ``loader``; returns (mean loss, accuracy) of the training batches."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in loader:                       # x float32 (B, 784), y int64 (B,)
        logits = model(x)                     # forward: every layer caches what backward needs
        loss = criterion(logits, y)           # a Python float
        opt.zero_grad()                       # gradients accumulate, so clear them first
        model.backward(criterion.backward())  # dL/dlogits = (softmax - one_hot) / B, sent back
        opt.step()                            # update every parameter in place
        total_loss += loss * len(y)
        correct += int(np.sum(logits.argmax(axis=1) == y))
        seen += len(y)
    return total_loss / seen, correct / seen


def plot(history: list[dict], cm: np.ndarray, acc: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="training loss")
    ax.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_xticks(epochs)
    twin = ax.twinx()
    twin.plot(epochs, [h["val_acc"] for h in history], "s--", c="tab:green",
              label="validation accuracy")
    twin.set_ylabel("accuracy")
    ax.legend(loc="upper left")
    twin.legend(loc="upper right")
    ax.set_title("Training")
    shown = np.log1p(cm)                       # log scale so the few mistakes are visible
    ax2.imshow(shown, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax2.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                         color="white" if shown[i, j] > 0.6 * shown.max() else "black")
    ax2.set_xticks(range(10))
    ax2.set_yticks(range(10))
    ax2.set_xlabel("predicted digit")
    ax2.set_ylabel("true digit")
    ax2.set_title(f"Confusion matrix on the test set (accuracy {acc:.2%})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "output"),
                        help="folder for the figure and weights (default: examples/output/)")
    fast_default = os.environ.get("BARENET_FAST", "0") not in ("", "0")
    parser.add_argument("--fast", action="store_true", default=fast_default,
                        help="6000 training and 2000 test images, 2 epochs; also BARENET_FAST=1")
    parser.add_argument("--epochs", type=int, default=None, help="default 3 (2 with --fast)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--hidden", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="folder with the four MNIST .gz files")
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.fast else 3)
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. Data: uint8 images stay compact; Normalize turns each batch into float32 (B, 784).
    train_set = load_dataset("mnist", "train", data_dir=args.data_dir)
    test_set = load_dataset("mnist", "test", data_dir=args.data_dir)
    images, labels = train_set.images, train_set.labels
    test_images, test_labels = test_set.images, test_set.labels
    if args.fast:
        pick = rng.choice(len(labels), 6000, replace=False)
        images, labels = images[pick], labels[pick]
        test_images, test_labels = test_images[:2000], test_labels[:2000]
    train_idx, val_idx = random_split(len(labels), 0.1, rng)      # hold out 10 % for validation
    normalize = Normalize(train_set.mean, train_set.std, flatten=True)
    train_loader = DataLoader(images[train_idx], labels[train_idx], batch_size=args.batch_size,
                              shuffle=True, rng=rng, transform=normalize)
    val_loader = DataLoader(images[val_idx], labels[val_idx], batch_size=1000, transform=normalize)
    test_loader = DataLoader(test_images, test_labels, batch_size=1000, transform=normalize)
    print(f"data: {len(train_idx)} training, {len(val_idx)} validation, {len(test_labels)} test "
          f"images; {normalize}")

    # 2. Model, loss, optimizer.
    model = build_model(args.hidden, rng)
    criterion = nn.CrossEntropyLoss()
    if args.optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = optim.Adam(model.parameters(), lr=1e-3)
    schedule = optim.CosineAnnealingLR(opt, T_max=epochs)   # lr: cosine from its start to 0
    print(f"model: {model.num_parameters()} parameters; optimizer {type(opt).__name__}, "
          f"cosine learning-rate schedule over {epochs} epochs")

    # 3. The training loop, with a validation pass after every epoch.
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        lr = opt.lr
        train_loss, train_acc = train_one_epoch(model, train_loader, criterion, opt)
        schedule.step()
        val_logits, val_y = predict_logits(model, val_loader)
        val_loss = nn.CrossEntropyLoss()(val_logits, val_y)
        val_acc = accuracy(val_y, val_logits.argmax(axis=1))
        history.append(dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc,
                            val_loss=val_loss, val_acc=val_acc, lr=lr))
        print(f"epoch {epoch}/{epochs} (lr {lr:.4f}): "
              f"train loss {train_loss:.4f} acc {train_acc:.4f} | "
              f"val loss {val_loss:.4f} acc {val_acc:.4f} ({time.perf_counter() - start:.1f} s)")

    # 4. Evaluation on the test set: accuracy, confusion matrix, the most confused pair.
    logits, y_true = predict_logits(model, test_loader)
    y_pred = logits.argmax(axis=1)
    acc = accuracy(y_true, y_pred)
    cm = confusion_matrix(y_true, y_pred, 10)
    off = cm - np.diag(np.diag(cm))
    t, p = np.unravel_index(off.argmax(), off.shape)
    recall = np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
    print("per-digit recall: " + " ".join(f"{d}:{r:.3f}" for d, r in enumerate(recall)))
    print(f"most frequent mistake: {t} read as {p} ({off[t, p]} times)")

    # 5. Save the model as a run directory (its architecture as JSON, the weights as plain
    #    arrays, no pickle), load it back, and predict: `barenet evaluate/predict/serve` read
    #    the same directory.
    run_dir = save_run(out / "mnist_mlp", model, dataset="mnist", overwrite=True,
                       extra={"test_accuracy": acc})
    run = load_run(run_dir)                    # the model rebuilt from config.json alone
    same = np.array_equal(run.logits(test_images), logits)
    print(f"saved to {run_dir} and reloaded: identical predictions: {same}; the first test "
          f"digit reads as {run.classes[run.predict(test_images[:1])[0]]}")

    path = out / "mnist_from_python.png"
    plot(history, cm, acc, path)
    print(f"figure: {path}")
    print(f"test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
