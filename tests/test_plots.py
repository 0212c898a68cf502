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
    (nn.Sequential(nn.Linear(10, 3)), None)])
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
