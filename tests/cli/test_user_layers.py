"""A layer of your own, in your own file: registered with ``register_layer``, trained in a
Sequential through the Python API, saved with ``save_run``, then used by every command that
loads a run with ``--layers FILE.py``; without it each command fails in one line naming the
layer and the file. Nothing is imported from the run directory."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from error_checks import one_error_line
from short_training import fit_one_pass

from barenet import nn, save_run
from barenet.cli.main import main
from barenet.data import DataLoader, Normalize, load_dataset
from barenet.layer_files import import_layer_file
from barenet.nn.registry import layer_class, unregister_layer

SWISH = '''
import numpy as np
from barenet import nn


@nn.register_layer
class Swish(nn.Module):
    """y = x * sigmoid(beta x), with beta learnable; shapes: any (N, *) -> same."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta
        self.slope = nn.Parameter(np.array([beta], dtype=np.float32))

    def forward(self, x):
        s = 1 / (1 + np.exp(-self.slope.data[0] * x))
        self._cache = (x, s)
        return x * s

    def backward(self, grad_out):
        x, s = self._cache
        ds = s * (1 - s)
        b = self.slope.data[0]
        self.slope.accumulate_grad(np.array([np.sum(grad_out * x * x * ds)], dtype=x.dtype))
        return grad_out * (s + b * x * ds)
'''


@pytest.fixture(scope="module")
def layers_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mine") / "my_layers.py"
    path.write_text(SWISH)
    return path


@pytest.fixture(scope="module")
def swish_run(layers_file, tmp_path_factory):
    """A CNN with a Swish, trained for 2,000 images by a loop of our own, saved with
    save_run; the layer is unregistered afterwards, as in a fresh process."""
    import_layer_file(layers_file)
    swish = layer_class("Swish")
    train = load_dataset("mnist", "train")
    norm = Normalize(train.mean, train.std, flatten=False)
    loader = DataLoader(train.images[:2000], train.labels[:2000], batch_size=50, shuffle=True,
                        rng=0, transform=norm)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, rng=0), swish(1.5), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 13 * 13, 10, rng=1))
    fit_one_pass(model, loader)
    run_dir = tmp_path_factory.mktemp("runs") / "swish"
    save_run(run_dir, model)
    test = load_dataset("mnist", "test")
    predicted = model(norm(test.images[:200])).argmax(axis=1)
    unregister_layer("Swish")
    yield run_dir, predicted
    unregister_layer("Swish")


def test_the_run_names_the_layer_and_its_file(swish_run):
    config = json.loads((swish_run[0] / "config.json").read_text())
    assert config["architecture"]["layers"][1] == {"type": "Swish", "args": {"beta": 1.5}}
    assert config["layers"]["Swish"]["file"] == "my_layers.py"


COMMANDS = [
    ["evaluate", "{run}", "--limit", "200", "--json"],
    ["predict", "{run}", "--index", "0", "1", "2", "--json"],
    ["explain", "{run}", "--index", "0", "--json"],
    ["attack", "{run}", "--limit", "20", "--json"],
    ["summary", "{run}", "--json"],
    ["plot", "{run}", "--out", "{tmp}/plots"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_without_layers_each_command_names_the_layer_and_the_file(argv, swish_run, tmp_path,
                                                                   capsys):
    unregister_layer("Swish")
    args = [a.format(run=swish_run[0], tmp=tmp_path) for a in argv]
    line = one_error_line(capsys, main(args))
    assert "this run needs layer Swish from my_layers.py: pass --layers my_layers.py" in line


def test_evaluate_and_predict_with_layers_give_the_models_answers(swish_run, layers_file,
                                                                  capsys):
    run_dir, predicted = swish_run
    assert main(["evaluate", str(run_dir), "--limit", "200", "--json",
                 "--layers", str(layers_file)]) == 0
    report = json.loads(capsys.readouterr().out)
    accuracy = float(np.mean(predicted == load_dataset("mnist", "test").labels[:200]))
    assert report["accuracy"] == pytest.approx(accuracy)
    assert main(["predict", str(run_dir), "--index", "0", "1", "2", "--json",
                 "--layers", str(layers_file)]) == 0
    got = [r["prediction_index"] for r in json.loads(capsys.readouterr().out)]
    assert got == predicted[:3].tolist()


@pytest.mark.parametrize("argv", [c for c in COMMANDS if c[0] not in ("evaluate", "predict")],
                         ids=[c[0] for c in COMMANDS if c[0] not in ("evaluate", "predict")])
def test_every_other_command_runs_with_layers(argv, swish_run, layers_file, tmp_path, capsys):
    args = [a.format(run=swish_run[0], tmp=tmp_path) for a in argv]
    assert main([*args, "--layers", str(layers_file)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if argv[0] == "summary":
        rows = json.loads(out)["layers"]
        assert [r["type"] for r in rows] == ["Conv2d", "Swish", "MaxPool2d", "Flatten", "Linear"]
        assert rows[1]["output_shape"] == [6, 26, 26] and rows[1]["parameters"] == 1


def test_serve_with_layers_draws_the_users_layer(swish_run, layers_file):
    run_dir, predicted = swish_run
    proc = subprocess.Popen([sys.executable, "-m", "barenet", "serve", str(run_dir), "--port",
                             "0", "--layers", str(layers_file)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        match = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.readline())
        assert match, proc.stderr.read()
        url = match.group(0)
        with urllib.request.urlopen(url + "api/model", timeout=20) as res:
            info = json.loads(res.read())
        assert [layer["type"] for layer in info["layers"]][1] == "Swish"
        image = load_dataset("mnist", "test").images[0]
        req = urllib.request.Request(url + "api/predict", method="POST",
                                     data=json.dumps({"pixels": image.reshape(-1).tolist()}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=20) as res:
            doc = json.loads(res.read())
        assert doc["prediction"] == int(predicted[0])
        assert any("Swish" in label["label"] for label in doc["activations"].values())
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


def test_serve_without_layers_fails_in_one_line(swish_run):
    out = subprocess.run([sys.executable, "-m", "barenet", "serve", str(swish_run[0]), "--port",
                          "0"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "needs layer Swish from my_layers.py" in out.stderr


def test_a_bad_layers_file_is_one_line_with_its_line(tmp_path, swish_run, capsys):
    bad = tmp_path / "broken.py"
    bad.write_text("import numpy\n\nraise RuntimeError('no')\n")
    line = one_error_line(capsys, main(["evaluate", str(swish_run[0]), "--layers", str(bad)]))
    assert f"{bad}:3: RuntimeError: no" in line
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    line = one_error_line(capsys, main(["evaluate", str(swish_run[0]), "--layers", str(empty)]))
    assert "registers no layer" in line
    line = one_error_line(capsys, main(["evaluate", str(swish_run[0]), "--layers",
                                        str(tmp_path / "nope.py")]))
    assert "no such file" in line


def test_nothing_is_imported_from_the_run_directory(swish_run, tmp_path, capsys):
    """A layers file planted inside the run is never imported by itself."""
    planted = swish_run[0] / "my_layers.py"
    planted.write_text("import pathlib\npathlib.Path(%r).write_text('imported')\n"
                       % str(tmp_path / "flag"))
    try:
        unregister_layer("Swish")
        one_error_line(capsys, main(["evaluate", str(swish_run[0])]))
        assert not (tmp_path / "flag").exists()
    finally:
        planted.unlink()
