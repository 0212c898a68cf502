"""``barenet models NAME --json`` prints a preset as data; ``barenet train --architecture FILE``
trains a hand-written description (with layers of one's own through ``--layers``); an invalid
description fails in one line naming the layer and the field."""
from __future__ import annotations

import json

import pytest
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.nn.registry import unregister_layer

QUICK = ["--epochs", "1", "--limit-train", "300", "--limit-test", "100", "--no-plots"]

SCALE = '''
import numpy as np
from barenet import nn


@nn.register_layer
class Halve(nn.Module):
    """y = x / 2."""

    def forward(self, x):
        return x / 2

    def backward(self, grad_out):
        return grad_out / 2
'''


@pytest.fixture
def mlp_file(tmp_path, capsys):
    assert main(["models", "mlp", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["input_shape"] == [784] and doc["architecture"]["type"] == "Sequential"
    doc["architecture"]["layers"][0]["args"]["out_features"] = 32     # a narrower MLP
    doc["architecture"]["layers"][2]["args"]["in_features"] = 32
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(doc))
    return path, doc


def test_a_hand_written_description_trains(mlp_file, tmp_path, capsys):
    path, doc = mlp_file
    assert main(["train", "--architecture", str(path), "--out", str(tmp_path / "run"),
                 *QUICK]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["name"] == "architecture"
    assert config["architecture"] == doc["architecture"]
    assert main(["evaluate", str(tmp_path / "run"), "--limit", "50", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["n"] == 50


def test_a_description_with_a_layer_of_ones_own_needs_its_file(mlp_file, tmp_path, capsys):
    path, doc = mlp_file
    layers = tmp_path / "halve.py"
    layers.write_text(SCALE)
    doc["architecture"]["layers"].insert(2, {"type": "Halve", "args": {}})
    path.write_text(json.dumps(doc))
    try:
        unregister_layer("Halve")
        line = one_error_line(capsys, main(["train", "--architecture", str(path), *QUICK,
                                            "--out", str(tmp_path / "no")]))
        assert "layer 2: unknown layer type 'Halve'" in line and "--layers" in line
        assert not (tmp_path / "no").exists()
        assert main(["train", "--architecture", str(path), "--layers", str(layers), *QUICK,
                     "--out", str(tmp_path / "yes")]) == 0
        config = json.loads((tmp_path / "yes" / "config.json").read_text())
        assert config["architecture"]["layers"][2]["type"] == "Halve"
    finally:
        unregister_layer("Halve")


@pytest.mark.parametrize("edit, words", [
    (lambda a: a["layers"][0]["args"].update(out_features="many"),
     "layer 0 (Linear): out_features must be an int"),
    (lambda a: a["layers"][2]["args"].update(out_features=7),
     "outputs [7] per sample, mnist has 10 classes"),
    (lambda a: a["layers"][0]["args"].update(in_features=100),
     "the model takes input [100], mnist's images give (784,) or (1, 28, 28)"),
    (lambda a: a["layers"].append({"type": "Nope"}), "unknown layer type 'Nope'"),
    (lambda a: a.update(type="Stack"), "expected an architecture"),
])
def test_an_invalid_description_is_one_line_naming_the_field(mlp_file, tmp_path, capsys, edit,
                                                             words):
    path, doc = mlp_file
    edit(doc["architecture"])
    path.write_text(json.dumps(doc["architecture"]))       # a bare architecture works too
    line = one_error_line(capsys, main(["train", "--architecture", str(path), *QUICK,
                                        "--out", str(tmp_path / "no")]))
    assert words in line and str(path) in line
    assert not (tmp_path / "no").exists()


def test_architecture_and_model_together_are_refused(mlp_file, tmp_path, capsys):
    line = one_error_line(capsys, main(["train", "--architecture", str(mlp_file[0]), "--model",
                                        "cnn", *QUICK, "--out", str(tmp_path / "no")]))
    assert "drop --model" in line


def test_models_name_without_json_prints_its_summary(capsys):
    assert main(["models", "lenet5"]) == 0
    assert "Conv2d" in capsys.readouterr().out
    one_error_line(capsys, main(["models", "nope", "--json"]))
