"""The pictures of the maths pages, drawn from barenet's own arrays.

Each ``draw_<name>(path)`` writes one PNG and returns the arrays it drew; ``FIGURES`` maps a
file name to its function.
``tests/test_docs.py`` draws every figure into a temporary directory and checks that the
committed PNG beside this file is what the code draws now. After changing a drawing (or the
code it shows), regenerate the committed pictures from the repository root:

    .venv/bin/python docs/figures/draw.py            # all of them, into docs/figures/
    .venv/bin/python docs/figures/draw.py im2col.png # one of them
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np

from barenet import nn
from barenet.figures import new_figure, save_figure
from barenet.nn.windows import im2col

HERE = Path(__file__).resolve().parent
WINDOW_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple")


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str = "white",
         size: int = 11) -> None:
    """A rounded box centred on (x, y) with ``text`` inside."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                facecolor=colour, edgecolor="black", linewidth=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax, start: tuple, end: tuple, colour: str = "black", style: str = "-",
           text: str = "", offset: tuple = (0.0, 0.0), size: int = 10) -> None:
    """An arrow from ``start`` to ``end``, ``text`` at its middle shifted by ``offset``."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": colour, "linestyle": style,
                            "linewidth": 1.4, "shrinkA": 0, "shrinkB": 0})
    if text:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, text, ha="center", va="center", fontsize=size, color=colour)


def _diagram_axes(fig, xlim: tuple, ylim: tuple):
    ax = fig.add_subplot()
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_im2col(path: Path) -> dict:
    """A 4x4 image, its four 3x3 windows, and im2col's (4, 9) matrix: one row per window."""
    from matplotlib.patches import Rectangle

    image = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)              # (N, C, H, W)
    cols = im2col(image, (3, 3), (1, 1))                           # (N*Ho*Wo, C*kH*kW)
    assert cols.shape == (4, 9)
    fig = new_figure(10.5, 3.6)
    left, right = fig.subplots(1, 2, width_ratios=[1, 2.3])
    for ax in (left, right):
        ax.set_aspect("equal")
        ax.axis("off")
    for r in range(4):
        for c in range(4):
            left.add_patch(Rectangle((c, 3 - r), 1, 1, facecolor="white", edgecolor="gray"))
            left.text(c + 0.5, 3.5 - r, f"{image[0, 0, r, c]:.0f}", ha="center", va="center",
                      fontsize=12)
    for k, (y, x) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        inset = 0.06 + 0.06 * k
        left.add_patch(Rectangle((x + inset, 1 - y + inset), 3 - 2 * inset, 3 - 2 * inset,
                                 fill=False, edgecolor=WINDOW_COLOURS[k], linewidth=2.2))
    left.set_xlim(-0.1, 4.1)
    left.set_ylim(-1.3, 4.1)
    left.text(2, -0.35, "x: (N, C, H, W) = (1, 1, 4, 4)\n3x3 kernel, stride 1: Ho = Wo = 2",
              ha="center", va="top", fontsize=10)
    for r in range(4):
        right.add_patch(Rectangle((0, 3 - r), 9, 1, facecolor=WINDOW_COLOURS[r], alpha=0.18,
                                  edgecolor="none"))
        right.add_patch(Rectangle((0, 3 - r), 9, 1, fill=False, edgecolor=WINDOW_COLOURS[r],
                                  linewidth=2.2))
        y, x = divmod(r, 2)
        right.text(-0.2, 3.5 - r, f"row {r}: window (y={y}, x={x})", ha="right", va="center",
                   fontsize=10, color=WINDOW_COLOURS[r])
        for c in range(9):
            right.text(c + 0.5, 3.5 - r, f"{cols[r, c]:.0f}", ha="center", va="center",
                       fontsize=12)
    for c in range(9):
        i, j = divmod(c, 3)
        right.text(c + 0.5, 4.15, f"{i},{j}", ha="center", va="bottom", fontsize=9)
    right.text(4.5, 4.65, "column = (c, i, j), the order of W.reshape(C_out, C*kH*kW); c = 0 "
               "here", ha="center", va="bottom", fontsize=9)
    right.text(4.5, -0.35, "cols = im2col(x): (N*Ho*Wo, C*kH*kW) = (4, 9)\n"
               "y = cols @ W2.T + b: (N*Ho*Wo, C_out), one row per output position",
               ha="center", va="top", fontsize=10)
    right.set_xlim(-4.2, 9.2)
    right.set_ylim(-1.3, 5.2)
    save_figure(fig, path)
    return {"cols": cols}


def draw_rnn_unrolled(path: Path) -> dict:
    """An RNN unrolled over four steps: the same weights at every step, the gradient's way back."""
    fig = new_figure(10.0, 4.0)
    ax = _diagram_axes(fig, (-1.2, 12.0), (-1.6, 4.4))
    steps = 4
    for t in range(1, steps + 1):
        cx = 2.6 * t - 0.6
        _box(ax, cx, 1.5, 1.5, 1.0, "tanh", colour="#e8f0fb")
        _box(ax, cx, -0.8, 0.9, 0.6, f"$x_{t}$", colour="#f2f2f2")
        _box(ax, cx, 3.7, 0.9, 0.6, f"$h_{t}$", colour="#f2f2f2")
        _arrow(ax, (cx, -0.5), (cx, 1.0), text="$W_{ih}$", offset=(0.45, 0.0))
        _arrow(ax, (cx, 2.0), (cx, 3.4))
        left = 2.6 * (t - 1) - 0.6 + (0.75 if t > 1 else 0.35)
        _arrow(ax, (left, 1.75), (cx - 0.75, 1.75), text="$W_{hh}$" if t > 1 else "",
               offset=(0.0, 0.3))
        _arrow(ax, (cx - 0.75, 1.15), (left, 1.15), colour="tab:red", style="--")
        _arrow(ax, (cx + 0.2, 3.4), (cx + 0.2, 2.0), colour="tab:red", style="--",
               text=f"$g_{t}$", offset=(0.3, 0.1))
    _box(ax, -0.6, 1.5, 0.7, 0.6, "$h_0$", colour="#f2f2f2")
    ax.text(5.2, -1.35, r"dashed, red: the backward pass, $\delta h_{t-1} = g_{t-1} + "
            r"\delta a_t W_{hh}$ with $\delta a_t = \delta h_t \odot (1 - h_t^2)$",
            ha="center", va="top", fontsize=10, color="tab:red")
    ax.text(5.2, 4.3, "one layer, unrolled: every box holds the same $W_{ih}$, $W_{hh}$, $b$",
            ha="center", va="bottom", fontsize=11)
    save_figure(fig, path)
    return {}


def draw_lstm_cell(path: Path) -> dict:
    """One LSTM step: four gates from one product, the cell line changed only element-wise."""
    fig = new_figure(9.0, 5.2)
    ax = _diagram_axes(fig, (-1.6, 11.4), (-2.3, 5.3))
    cell_y, gate_y = 4.0, 0.9
    _arrow(ax, (-1.2, cell_y), (10.4, cell_y))
    ax.text(-1.2, cell_y + 0.3, "$c_{t-1}$", fontsize=12)
    ax.text(10.0, cell_y + 0.3, "$c_t$", fontsize=12)
    gates = [(1.4, r"$\sigma$", "f"), (3.4, r"$\sigma$", "i"), (4.9, "tanh", "g"),
             (7.4, r"$\sigma$", "o")]
    for x, act, name in gates:
        _box(ax, x, gate_y, 1.1, 0.7, f"{act}\n${name}$", colour="#fdf1dc", size=10)
    # the product that feeds every gate
    _box(ax, 4.4, -1.4, 10.2, 0.7, r"$[a_i, a_f, a_g, a_o] = x_t W_{ih}^\top + b_{ih}"
         r" + h_{t-1} W_{hh}^\top + b_{hh}$    (4H pre-activations)", colour="#e8f0fb", size=10)
    for x, _, _ in gates:
        _arrow(ax, (x, -1.05), (x, gate_y - 0.35))
    # forget: c_{t-1} * f
    _box(ax, 1.4, cell_y, 0.6, 0.6, r"$\times$", size=12)
    _arrow(ax, (1.4, gate_y + 0.35), (1.4, cell_y - 0.3))
    # write: i * g, added to the cell
    _box(ax, 4.15, 2.5, 0.6, 0.6, r"$\times$", size=12)
    _arrow(ax, (3.4, gate_y + 0.35), (3.95, 2.28))
    _arrow(ax, (4.9, gate_y + 0.35), (4.35, 2.28))
    _box(ax, 4.15, cell_y, 0.6, 0.6, "+", size=13)
    _arrow(ax, (4.15, 2.8), (4.15, cell_y - 0.3))
    # output: o * tanh(c_t)
    _box(ax, 8.6, 2.9, 0.9, 0.55, "tanh", size=10)
    _arrow(ax, (8.6, cell_y), (8.6, 3.18))
    _box(ax, 8.6, 1.6, 0.6, 0.6, r"$\times$", size=12)
    _arrow(ax, (8.6, 2.62), (8.6, 1.9))
    _arrow(ax, (7.95, gate_y), (8.3, 1.45))
    _arrow(ax, (8.9, 1.6), (10.4, 1.6))
    ax.text(9.6, 1.8, "$h_t$", fontsize=12)
    ax.text(5.0, 4.45, r"backward along the cell: $\delta c_{t-1} = \delta c \odot f$ "
            "(no weight matrix, no squashing)", ha="center", va="bottom", fontsize=10,
            color="tab:red")
    _arrow(ax, (3.75, cell_y - 0.15), (1.75, cell_y - 0.15), colour="tab:red", style="--")
    _arrow(ax, (1.05, cell_y - 0.15), (-1.2, cell_y - 0.15), colour="tab:red", style="--")
    ax.text(2.6, 2.3, "$c_t = f \\odot c_{t-1} + i \\odot g$", fontsize=10, ha="center")
    ax.text(9.7, 0.75, "$h_t = o \\odot \\tanh(c_t)$", fontsize=10, ha="center")
    save_figure(fig, path)
    return {}


def attention_example() -> tuple[np.ndarray, np.ndarray]:
    """The attention weights P of attention.md's worked example, without and with the causal
    mask: one head, W_q = W_k = W_v = I, tokens [1, 0], [0, 1], [1, 1]."""
    mha = nn.MultiheadAttention(2, 1, dtype=np.float64)
    mha.in_proj_weight.data[:] = np.vstack([np.eye(2)] * 3)
    mha.out_proj.weight.data[:] = np.eye(2)
    x = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    mha(x)
    full = mha.attn_weights[0].copy()
    mha(x, is_causal=True)
    return full, mha.attn_weights[0].copy()


def draw_attention(path: Path) -> dict:
    """The worked example's 3x3 attention matrix, plain and causal, every weight written in."""
    full, causal = attention_example()
    fig = new_figure(8.0, 3.6)
    names = ["[1, 0]", "[0, 1]", "[1, 1]"]
    for ax, p, title in zip(fig.subplots(1, 2), (full, causal), ("P", "P, is_causal=True")):
        ax.imshow(p, cmap="Blues", vmin=0, vmax=1)
        for i in range(3):
            for j in range(3):
                ax.text(j, i, f"{p[i, j]:.4f}", ha="center", va="center", fontsize=11,
                        color="white" if p[i, j] > 0.6 else "black")
        ax.set_xticks(range(3), [f"key {j}\n{n}" for j, n in enumerate(names)], fontsize=9)
        ax.set_yticks(range(3), [f"query {i} {n}" for i, n in enumerate(names)], fontsize=9)
        ax.set_title(f"{title} (each row sums to 1)", fontsize=10)
    save_figure(fig, path)
    return {"full": full, "causal": causal}


def vit_class_attention(n_train: int = 20000, seed: int = 0):
    """A small ViT (dim 16, 2 heads, one encoder layer) trained for one pass over ``n_train``
    MNIST images with Adam; returns (test images, the class token's attention to the 16
    patches, reshaped (N, 4, 4), predictions, labels) for the first eight test digits."""
    from barenet import optim
    from barenet.data import DataLoader, Normalize, load_dataset
    from barenet.models import build_model

    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    normalize = Normalize(train.mean, train.std, flatten=False)
    vit = build_model({"name": "vit", "dim": 16, "heads": 2, "depth": 1, "mlp": 32}, rng=seed)
    loader = DataLoader(train.images[:n_train], train.labels[:n_train], batch_size=64,
                        shuffle=True, rng=seed, transform=normalize)
    criterion, opt = nn.CrossEntropyLoss(), optim.Adam(vit.parameters(), lr=3e-3)
    vit.train()
    for x, y in loader:
        criterion(vit(x), y)
        opt.zero_grad()
        vit.backward(criterion.backward())
        opt.step()
    vit.eval()
    images = test.images[:8]
    predictions = vit(normalize(images)).argmax(axis=1)
    weights = vit[1].self_attn.attn_weights                    # (N, 17, 17), heads averaged
    return images, weights[:, 0, 1:].reshape(-1, 4, 4), predictions, test.labels[:8]


def draw_vit_attention(path: Path) -> dict:
    """Row 0 of the attention matrix (the class token reading the 16 patches) over each digit;
    returns what it drew."""
    images, maps, predictions, labels = vit_class_attention()
    fig = new_figure(11.0, 3.2)
    axes = fig.subplots(2, 8, height_ratios=[1, 1])
    for k in range(8):
        axes[0, k].imshow(images[k], cmap="gray")
        axes[0, k].set_title(f"predicted {predictions[k]}", fontsize=9)
        axes[1, k].imshow(images[k], cmap="gray")
        axes[1, k].imshow(np.kron(maps[k], np.ones((7, 7))), cmap="magma", alpha=0.65,
                          vmin=0, vmax=maps.max())
        for ax in axes[:, k]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("digit", fontsize=9)
    axes[1, 0].set_ylabel("class token's\nattention", fontsize=9)
    save_figure(fig, path)
    return {"maps": maps, "predictions": predictions, "labels": labels}


#: file name -> the function that draws it (each returns the arrays it drew, for the tests)
FIGURES: dict[str, Callable[[Path], dict]] = {
    "im2col.png": draw_im2col,
    "rnn-unrolled.png": draw_rnn_unrolled,
    "lstm-cell.png": draw_lstm_cell,
    "attention.png": draw_attention,
    "vit-attention.png": draw_vit_attention,
}


def main(argv: list[str]) -> int:
    """Draw the figures named in ``argv`` (all when none) into this directory."""
    names = argv or sorted(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise SystemExit(f"unknown figure {unknown[0]!r}; expected one of {sorted(FIGURES)}")
    for name in names:
        FIGURES[name](HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
