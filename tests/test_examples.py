"""Every script in examples/ runs in fast mode, prints a metric that clears a sensible bar, and
saves a figure that is not blank. Each runs as a learner would run it: a subprocess, in a fresh
temporary directory."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _accuracy_at_least(bar: float):
    def check(out: str) -> None:
        acc = float(re.search(r"^test accuracy: ([0-9.]+)$", out, re.M).group(1))
        assert acc >= bar, f"test accuracy {acc} < {bar}"
    return check


def _regression(out: str) -> None:
    m = re.search(r"^R\^2 on clean test data: MSE (-?[0-9.]+), MAE (-?[0-9.]+)$", out, re.M)
    mse, mae = float(m.group(1)), float(m.group(2))
    assert mae > 0.95, f"the L1-trained fit should be close to the truth, R^2 {mae}"
    assert mae > mse + 0.1, f"L1 should beat MSE on data with outliers: {mae} vs {mse}"


def _custom_layer(out: str) -> None:
    m = re.search(r"^gradcheck max error: correct ([0-9.e+-]+), buggy ([0-9.e+-]+)$", out, re.M)
    good, bad = float(m.group(1)), float(m.group(2))
    assert good < 1e-7, f"the correct Swish fails its gradient check: {good}"
    assert bad > 1e-3, f"the buggy Swish was not caught: {bad}"
    acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert acc >= 0.9, f"a network with Swish layers reached only {acc}"


CASES = {
    "binary_classification": (_accuracy_at_least(0.93), ["binary_classification.png"]),
    "multiclass_classification": (_accuracy_at_least(0.85), ["multiclass_classification.png"]),
    "regression": (_regression, ["regression.png"]),
    "custom_layer": (_custom_layer, ["custom_layer.png"]),
    "mnist_from_python": (_accuracy_at_least(0.88), ["mnist_from_python.png", "mnist_mlp/config.json",
                                                      "mnist_mlp/weights.npz"]),
}


def test_every_example_is_tested() -> None:
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(CASES), f"examples without a test, or tests without an example: " \
                                  f"{scripts ^ set(CASES)}"


def _assert_not_blank(png: Path) -> None:
    import matplotlib.image as mpimg

    pixels = mpimg.imread(png)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= 200, pixels.shape
    rgb = pixels[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05, f"{png.name} looks blank (pixel std {rgb.std():.3f})"
    assert len(np.unique(np.round(rgb * 255).astype(np.uint8), axis=0)) > 20, \
        f"{png.name} has almost no distinct colours"


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_runs_fast(name: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    check, files = CASES[name]
    env = {k: v for k, v in os.environ.items() if k not in ("BARENET_DATA", "MPLBACKEND")}
    env["MPLCONFIGDIR"] = str(tmp_path / "mpl")
    out_dir = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--fast", "--out", str(out_dir)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    check(proc.stdout)
    for f in files:
        assert (out_dir / f).is_file(), f"{name} did not write {f}; it printed:\n{proc.stdout}"
    _assert_not_blank(out_dir / files[0])


def test_examples_are_reproducible(tmp_path: Path) -> None:
    """The same seed gives the same printed numbers (no global random state, no clock)."""
    runs = []
    for i in range(2):
        proc = subprocess.run(
            [sys.executable, str(EXAMPLES / "binary_classification.py"), "--fast",
             "--out", str(tmp_path / str(i))],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")})
        assert proc.returncode == 0, proc.stderr
        runs.append([line for line in proc.stdout.splitlines() if not line.startswith("figure:")])
    assert runs[0] == runs[1]
