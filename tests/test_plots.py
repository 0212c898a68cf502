"""Figures: each writes a real, non-blank PNG; plot_run draws the whole set for a run."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from barenet import nn, plots  # noqa: E402
from barenet.models import build_model  # noqa: E402

CLASSES = [str(i) for i in range(10)]


def assert_png(path: Path, min_side: int = 200) -> np.ndarray:
    """The file is a PNG of a reasonable size with something drawn on it."""
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) >= min_side
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.std() > 5
    return pixels


def _history(n: int = 4, with_val: bool = True) -> list[dict]:
    return [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "train_acc": 0.8 + 0.03 * i,
             "val_loss": 1.1 / (i + 1) if with_val else None,
             "val_acc": 0.78 + 0.03 * i if with_val else None} for i in range(n)]


def _eval_result(rng: np.random.Generator, n: int = 300) -> tuple[dict, SimpleNamespace]:
    labels = rng.integers(0, 10, n)
    probs = rng.dirichlet(np.ones(10) * 0.3, n).astype(np.float32)
    probs[: n // 2, :] = 0.01
    probs[np.arange(n // 2), labels[: n // 2]] = 0.91   # half right, confidently
    cm = np.zeros((10, 10), dtype=np.int64)
    np.add.at(cm, (labels, probs.argmax(1)), 1)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    data = SimpleNamespace(images=images, labels=labels, classes=CLASSES, name="mnist")
    return ({"accuracy": float(np.trace(cm) / n), "confusion_matrix": cm,
             "probabilities": probs}, data)


@pytest.mark.parametrize("with_val", [True, False])
def test_history_curves(tmp_path, with_val):
    assert_png(plots.plot_history(_history(with_val=with_val), tmp_path / "c.png",
                                  test_accuracy=0.9))


def test_save_figure_is_atomic(tmp_path):
    """A finished figure replaces the file whole; a failed one leaves the old file and no
    temporary file behind."""
    path = plots.save_figure(plots.new_figure(3, 2), tmp_path / "sub" / "f.png")
    before = path.read_bytes()
    broken = plots.new_figure(3, 2)
    broken.savefig = lambda fh, format: (fh.write(b"half a png"), 1 / 0)
    with pytest.raises(ZeroDivisionError):
        plots.save_figure(broken, path)
    assert path.read_bytes() == before and [p.name for p in path.parent.iterdir()] == ["f.png"]


def test_confusion_per_class_and_mistakes(tmp_path, rng):
    result, data = _eval_result(rng)
    cm = result["confusion_matrix"]
    assert_png(plots.plot_confusion(cm, CLASSES, tmp_path / "cm.png"))
    assert_png(plots.plot_per_class(cm, CLASSES, tmp_path / "pc.png"))
    assert_png(plots.plot_misclassified(data.images, data.labels, result["probabilities"],
                                        CLASSES, tmp_path / "mis.png"))


def test_mistakes_grid_without_mistakes(tmp_path):
    probs = np.eye(10, dtype=np.float32)
    path = plots.plot_misclassified(np.zeros((10, 28, 28), np.uint8), np.arange(10), probs,
                                    CLASSES, tmp_path / "none.png")
    assert path.is_file()


@pytest.mark.parametrize("model,tiles", [
    (nn.Sequential(nn.Linear(784, 30), nn.ReLU(), nn.Linear(30, 10)), (30, 28, 28)),
    (nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 24 * 24, 10)),
     (8, 5, 5)),
    (nn.Sequential(nn.Linear(10, 3)), None),
    # a ViT's first layer cuts 7x7 patches: its filters are 7x7, not 28x28 pictures
    (nn.Sequential(nn.PatchEmbedding(28, 7, 1, 16), nn.SelectStep(0), nn.Linear(16, 10)),
     (16, 7, 7)),
    # a recurrent first layer has no picture-shaped weights; nothing after it stands in
    (nn.Sequential(nn.Flatten(1, 2), nn.LSTM(28, 16), nn.SelectStep(), nn.Linear(16, 16)),
     None)])
def test_first_layer_weights(tmp_path, model, tiles):
    found = plots.first_layer_filters(model)
    if tiles is None:
        assert found is None and plots.plot_first_layer(model, tmp_path / "w.png") is None
        return
    assert found[1].shape == tiles
    assert_png(plots.plot_first_layer(model, tmp_path / "w.png"))


def test_prediction_figure(tmp_path, rng):
    original = rng.random((120, 200)).astype(np.float32)
    digit = rng.integers(0, 256, (28, 28)).astype(np.uint8)
    assert_png(plots.plot_prediction(original, digit, rng.dirichlet(np.ones(10)), CLASSES,
                                     tmp_path / "p.png", title="x.png"))


def test_plot_run_draws_everything(tmp_path, rng):
    result, data = _eval_result(rng)
    run = SimpleNamespace(model=build_model({"name": "mlp", "hidden": 16}, rng=0),
                          classes=CLASSES, dataset="mnist", config={})
    written = plots.plot_run(tmp_path, _history(), result, run, dataset=data)
    assert sorted(p.name for p in written) == sorted(plots.RUN_PLOTS.values())
    for p in written:
        assert_png(p)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave nothing behind


def test_plot_run_reads_metrics_csv_and_skips_what_is_missing(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,train_loss,train_acc,val_loss,val_acc\n1,0.5,0.8,,\n2,0.3,0.9,,\n")
    written = plots.plot_run(tmp_path, None, None, None)
    assert [p.name for p in written] == [plots.RUN_PLOTS["curves"]]
    assert_png(written[0])


@pytest.fixture
def drawn(monkeypatch):
    """Every Figure the plotting functions save, kept after it was drawn into its PNG."""
    from barenet.compare import figures as compare_figures
    from barenet.tune import figures as tune_figures

    figs: list = []
    real = plots.save_figure

    def keep(fig, path):
        out = real(fig, path)
        figs.append(fig)
        return out

    for module in (plots, compare_figures, tune_figures):
        monkeypatch.setattr(module, "save_figure", keep)
    return figs


def visible_ticks(axis) -> list[float]:
    low, high = sorted(axis.get_view_interval())
    return [t for t in axis.get_majorticklocs() if low - 1e-9 <= t <= high + 1e-9]


def assert_integer_ticks(axis) -> None:
    ticks = visible_ticks(axis)
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def words(ax) -> str:
    """Everything written on ``ax``: its titles, labels and texts."""
    parts = [ax.get_title(loc) for loc in ("left", "center", "right")]
    parts += [ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
    return " ".join(parts)


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


@pytest.mark.parametrize("n", [1, 2, 4])
def test_curves_have_whole_epoch_ticks(tmp_path, drawn, n):
    plots.plot_history(_history(n), tmp_path / "c.png")
    for ax in drawn[0].axes:
        assert_integer_ticks(ax.xaxis)


def test_curves_mark_the_best_epoch(tmp_path, drawn):
    history = _history(5)
    for h, acc in zip(history, (0.90, 0.95, 0.97, 0.96, 0.97)):
        h["val_acc"] = acc                        # the latest of the ties is kept, as training does
    plots.plot_history(history, tmp_path / "c.png", test_accuracy=0.9)
    ax_loss, ax_acc = drawn[0].axes
    assert "best epoch 5 (weights kept)" in legend_texts(ax_acc)
    assert "best epoch 5 (weights kept)" in legend_texts(ax_loss)
    plots.plot_history(history, tmp_path / "c.png", best_epoch=3)   # as the run recorded it
    assert "best epoch 3 (weights kept)" in legend_texts(drawn[1].axes[1])


def test_plot_run_marks_the_runs_best_epoch(tmp_path, drawn):
    run = SimpleNamespace(model=None, classes=CLASSES, dataset="mnist", config={"best_epoch": 2})
    plots.plot_run(tmp_path, _history(4), None, run)
    assert "best epoch 2 (weights kept)" in legend_texts(drawn[0].axes[1])


def _cm_with_accuracies(acc: list[float], n: int = 1000) -> np.ndarray:
    cm = np.zeros((len(acc), len(acc)), dtype=np.int64)
    for i, a in enumerate(acc):
        cm[i, i] = round(a * n)
        cm[i, (i + 1) % len(acc)] = n - cm[i, i]
    return cm


def test_per_class_axis_zooms_onto_close_accuracies_and_says_so(tmp_path, drawn):
    acc = [0.978, 0.992, 0.985, 0.981, 0.990, 0.983, 0.987, 0.979, 0.986, 0.988]
    path = plots.plot_per_class(_cm_with_accuracies(acc), CLASSES, tmp_path / "pc.png")
    assert_png(path)
    ax = drawn[0].axes[0]
    low, high = ax.get_ylim()
    assert 0.9 <= low < 0.978 and 0.992 < high <= 1.0 + 1e-9
    # the range of the bars fills a good part of the axis: 97.8% and 99.2% look different
    assert (0.992 - 0.978) / (high - low) > 0.25
    assert f"zoomed: starts at {low:.1%}" in words(ax)      # the note tells the truth


def test_per_class_axis_starts_at_zero_when_accuracies_are_far_apart(tmp_path, drawn):
    acc = [0.30, 0.99, 0.80, 0.95, 0.90, 0.70, 0.97, 0.85, 0.60, 0.92]
    plots.plot_per_class(_cm_with_accuracies(acc), CLASSES, tmp_path / "pc.png")
    ax = drawn[0].axes[0]
    assert ax.get_ylim()[0] == 0
    assert "zoomed" not in words(ax)


def test_confusion_matrix_mistakes_are_visible(tmp_path, drawn):
    cm = _cm_with_accuracies([0.991] * 10)            # 991 right, 9 wrong per class
    cm[3, 5], cm[3, 4] = 2, cm[3, 4] - 2
    png = assert_png(plots.plot_confusion(cm, CLASSES, tmp_path / "cm.png")) / 255
    ax = drawn[0].axes[0]

    def lightness(i, j):
        """The PNG's grey level in cell (i, j), off the count written in its centre."""
        x, y = ax.transData.transform((j - 0.35, i - 0.35))
        return float(png[int(round(png.shape[0] - y)), int(round(x))])

    assert lightness(0, 1) < 0.6                      # 9 mistakes: a strong colour
    assert lightness(3, 5) < lightness(0, 2) - 0.1    # 2 mistakes: lighter, but not white
    assert lightness(0, 2) > 0.9                      # no mistakes: (nearly) white


def _comparison(epochs: int = 1) -> dict:
    def lib(loss: float) -> dict:
        return {"batch_losses": [2.0, 1.0, 0.5] * 10, "train_seconds": 1.0,
                "epochs": [{"epoch": e + 1, "train_loss": loss / (e + 1), "train_acc": 0.93,
                            "test_acc": 0.96} for e in range(epochs)]}
    return {"barenet": lib(0.21644792934), "pytorch": lib(0.21644791267),
            "config": {"model": "mlp", "dataset": "mnist", "train_examples": 60000}}


@pytest.mark.parametrize("epochs", [1, 3])
def test_comparison_loss_axis_is_plain_and_epochs_whole(tmp_path, drawn, epochs):
    from barenet.compare.figures import plot_comparison

    assert_png(plot_comparison(_comparison(epochs), tmp_path / "cmp.png"))
    _, _, ax_loss, ax_acc = drawn[0].axes
    for ax in (ax_loss, ax_acc):
        assert ax.yaxis.get_major_formatter().get_offset() == ""
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert labels and not any("e" in t.lower() for t in labels), labels
        assert_integer_ticks(ax.xaxis)


def test_tune_history_of_one_trial_has_whole_trial_numbers(tmp_path, drawn):
    from barenet.tune.figures import plot_results

    results = {"mode": "optuna", "params": ["lr"],
               "trials": [{"number": 0, "value": 0.9, "params": {"lr": 0.01}}]}
    plot_results(results, tmp_path)
    history = drawn[-1].axes[0]
    assert history.get_title() == "optimisation history"
    assert_integer_ticks(history.xaxis)
