"""``barenet plot RUN`` for real, and the figures ``barenet train`` draws into a run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

from barenet.cli.main import main  # noqa: E402
from barenet.plots import RUN_PLOTS  # noqa: E402


def assert_png(path: Path, min_side: int = 200) -> None:
    assert path.is_file() and path.stat().st_size > 1000, path
    with Image.open(path) as im:
        assert im.format == "PNG" and min(im.size) >= min_side
        assert np.asarray(im.convert("L"), dtype=np.float64).std() > 5, path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plot") / "run"
    assert main(["train", "--limit-train", "1500", "--epochs", "2", "--limit-test", "400",
                 "--hidden", "32", "--quiet", "--out", str(out)]) == 0
    return out


def test_train_draws_the_figures_into_the_run(run_dir):
    for name in RUN_PLOTS.values():
        assert_png(run_dir / name)


def test_plot_command_draws_everything_on_demand(run_dir, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["plot", str(run_dir), "--out", str(out), "--limit", "500"]) == 0
    text = capsys.readouterr().out
    assert "on 500 images; wrote 5 figures" in text
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_PLOTS.values())
    for name in RUN_PLOTS.values():
        assert_png(out / name)
        assert str(out / name) in text


def test_plot_of_a_missing_run_is_one_line(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("barenet: error: ") and "nope" in err[0]


def test_a_fifo_as_metrics_csv_never_blocks_plot(run_dir, tmp_path):
    """metrics.csv is read as an untrusted file: a FIFO is refused at once (the curves then
    come from trainer.json), never waited on."""
    import os
    import shutil
    import subprocess
    import sys

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "metrics.csv").unlink()
    os.mkfifo(run / "metrics.csv")
    proc = subprocess.run([sys.executable, "-m", "barenet", "plot", str(run), "--out",
                           str(tmp_path / "figs"), "--limit", "100"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert_png(tmp_path / "figs" / RUN_PLOTS["curves"])


@pytest.fixture(scope="module")
def diagnostics_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plot") / "diag"
    assert main(["train", "--limit-train", "500", "--epochs", "2", "--limit-test", "100",
                 "--hidden", "8", "--quiet", "--diagnostics", "--out", str(out)]) == 0
    return out


def test_train_with_diagnostics_draws_gradient_flow(diagnostics_run, run_dir):
    from barenet.plots import GRADIENT_FLOW

    assert_png(diagnostics_run / GRADIENT_FLOW)
    assert not (run_dir / GRADIENT_FLOW).exists()   # a run without the columns has none
    header = (diagnostics_run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "grad_norm/0.weight" in header and "dead_relu/1" in header


def test_plot_draws_gradient_flow_with_one_line_per_layer(diagnostics_run, tmp_path, capsys,
                                                          monkeypatch):
    from barenet import plots_gradient_flow

    figures = []
    real_save = plots_gradient_flow.save_figure
    monkeypatch.setattr(plots_gradient_flow, "save_figure",
                        lambda fig, path: (figures.append(fig), real_save(fig, path))[1])
    out = tmp_path / "figs"
    assert main(["plot", str(diagnostics_run), "--out", str(out), "--limit", "100"]) == 0
    assert "wrote 6 figures" in capsys.readouterr().out
    assert_png(out / plots_gradient_flow.GRADIENT_FLOW)
    [fig] = figures
    grad, ratio, dead = fig.axes[:3]
    layers = ["0.weight (Linear)", "2.weight (Linear)"]   # Linear -> ReLU -> Linear
    assert [line.get_label() for line in grad.get_lines()] == layers
    assert [line.get_label() for line in ratio.get_lines()][:2] == layers
    guide = ratio.get_lines()[2]
    assert len(ratio.get_lines()) == 3 and list(guide.get_ydata()) == [1e-3, 1e-3]
    assert [line.get_label() for line in dead.get_lines()] == ["1 ReLU after 0 Linear"]
    assert grad.get_yscale() == ratio.get_yscale() == "log"
    assert all(len(line.get_xdata()) == 2 for ax in (grad, dead) for line in ax.get_lines())
