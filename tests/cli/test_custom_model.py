"""A model of your own, trained with your own loop and saved with ``save_run``, works with the
real ``barenet evaluate``, ``predict`` and ``serve`` commands; a layer that is not built in is
refused in one line; README's example runs as written."""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from error_checks import one_error_line
from short_training import fit_one_pass

from barenet import load_run, nn, save_run
from barenet.cli.main import main
from barenet.data import DataLoader, Normalize, load_dataset
from barenet.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def test_set():
    return load_dataset("mnist", "test")


@pytest.fixture(scope="module")
def mine(tmp_path_factory):
    """README's model, trained for one short epoch by a loop of our own, saved with save_run.
    Returns (run directory, the trained model in eval mode, its input transform)."""
    train = load_dataset("mnist", "train")
    norm = Normalize(train.mean, train.std, flatten=False)
    loader = DataLoader(train.images[:2000], train.labels[:2000], batch_size=50, shuffle=True,
                        rng=0, transform=norm)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, rng=0), nn.BatchNorm2d(8), nn.LeakyReLU(0.1),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2, rng=1),
                          nn.Linear(8 * 13 * 13, 10, rng=2))
    fit_one_pass(model, loader)
    out = tmp_path_factory.mktemp("custom") / "mine"
    save_run(out, model, dataset="mnist")
    return out, model, norm


def expected(model, norm, images):
    return model(norm(images)).argmax(axis=1)


def png_bytes(image: np.ndarray) -> bytes:
    """A test digit as a PNG, enlarged to 112x112, dark ink on white, off-centre like a user's
    picture."""
    from PIL import Image

    canvas = Image.new("L", (160, 130), 255)
    canvas.paste(Image.fromarray(255 - image).resize((112, 112)), (30, 8))
    buf = io.BytesIO()
    canvas.save(buf, "PNG")
    return buf.getvalue()


def png(image: np.ndarray, path: Path) -> Path:
    path.write_bytes(png_bytes(image))
    return path


def test_evaluate_scores_the_saved_model_like_the_one_in_memory(mine, test_set, capsys):
    run_dir, model, norm = mine
    assert main(["evaluate", str(run_dir), "--json", "--limit", "500", "--no-plots"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = np.mean(expected(model, norm, test_set.images[:500]) == test_set.labels[:500])
    assert out["accuracy"] == want and want > 0.7
    assert out["n"] == 500 and out["dataset"] == "mnist"


def test_evaluate_tables_and_figures_on_the_whole_test_set(mine, capsys):
    run_dir = mine[0]
    assert main(["evaluate", str(run_dir)]) == 0
    captured = capsys.readouterr()
    assert f"{run_dir} (custom, trained on mnist)" in captured.out
    assert "10000 images" in captured.out and "confusion matrix" in captured.out
    assert "Traceback" not in captured.err and "not drawn" not in captured.err


def test_predict_a_picture_and_test_images(mine, test_set, tmp_path, capsys):
    pytest.importorskip("PIL")
    from barenet.data.images import load_image, to_mnist

    run_dir, model, norm = mine
    files = [png(test_set.images[i], tmp_path / f"digit{i}.png") for i in range(4)]
    assert main(["predict", str(run_dir), *map(str, files), "--json", "--index", "7"]) == 0
    results = json.loads(capsys.readouterr().out)
    digits = np.stack([to_mnist(load_image(f)) for f in files] + [test_set.images[7]])
    assert [r["prediction_index"] for r in results] == expected(model, norm, digits).tolist()
    assert results[-1]["index"] == 7 and results[-1]["label"] == str(test_set.labels[7])
    assert main(["predict", str(run_dir), str(files[0])]) == 0
    assert capsys.readouterr().out.startswith(f"{files[0]}: ")


def start_server(run_dir: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "barenet", "serve", str(run_dir), "--port",
                             "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r} {proc.stderr.read()!r}")
    return proc, match.group(0)


def post(url: str, body: bytes, content_type: str) -> dict:
    req = urllib.request.Request(url + "api/predict", data=body, method="POST",
                                 headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=20) as res:
        return json.loads(res.read())


def test_serve_answers_predictions(mine, test_set):
    pytest.importorskip("PIL")
    from barenet.data.images import from_bytes, to_mnist

    run_dir, model, norm = mine
    proc, url = start_server(run_dir)
    try:
        with urllib.request.urlopen(url + "api/model", timeout=20) as res:
            info = json.loads(res.read())
        assert info["model"] == {"name": "custom"} and info["dataset"] == "mnist"
        assert [layer["type"] for layer in info["layers"]][:2] == ["Conv2d", "BatchNorm2d"]
        assert info["parameters"] == model.num_parameters()
        image = test_set.images[3]
        doc = post(url, json.dumps({"pixels": image.reshape(-1).tolist()}).encode(),
                   "application/json")
        probs = model(norm(image[None])).astype(np.float64)
        probs = np.exp(probs - probs.max()) / np.exp(probs - probs.max()).sum()
        assert doc["prediction"] == int(np.argmax(probs))
        np.testing.assert_allclose(doc["probabilities"], probs[0], atol=1e-5)
        picture = png_bytes(test_set.images[5])
        doc = post(url, picture, "image/png")
        digit = to_mnist(from_bytes(picture))
        assert doc["prediction"] == int(expected(model, norm, digit[None])[0])
        assert doc["activations"]  # every block of the custom model is shown
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)   # generous: a loaded machine is slow to exit
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "Traceback" not in err


def test_a_flat_nested_model_works_too(tmp_path, test_set, capsys):
    model = nn.Sequential(nn.Sequential(nn.Linear(784, 32, rng=0), nn.BatchNorm1d(32)),
                          nn.Sequential(nn.ReLU(), nn.Sequential(nn.Dropout(0.1))),
                          nn.Linear(32, 10, rng=1)).eval()
    save_run(tmp_path / "flat", model, extra={"test_accuracy": 0.1})
    assert load_run(tmp_path / "flat").input_shape == (784,)
    assert main(["evaluate", str(tmp_path / "flat"), "--json", "--limit", "50",
                 "--no-plots"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 50
    assert main(["predict", str(tmp_path / "flat"), "--index", "0", "1", "--json"]) == 0
    norm = Normalize(0.1307, 0.3081, flatten=True)
    got = [r["prediction_index"] for r in json.loads(capsys.readouterr().out)]
    assert got == expected(model, norm, test_set.images[:2]).tolist()


class MyLayer(nn.Module):
    def forward(self, x):
        return x


def test_a_layer_that_is_not_built_in_is_refused_in_one_line(tmp_path, mine, capsys):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), MyLayer())
    with pytest.raises(ConfigError) as info:
        save_run(tmp_path / "no", model)
    assert str(info.value).startswith("save_run: layer 2 (MyLayer) is not a registered "
                                      "layer") and "\n" not in str(info.value)
    assert not (tmp_path / "no").exists()
    edited = tmp_path / "edited"
    edited.mkdir()
    for name in ("config.json", "weights.npz"):
        (edited / name).write_bytes((mine[0] / name).read_bytes())
    cfg = json.loads((edited / "config.json").read_text())
    cfg["architecture"]["layers"][2] = {"type": "MyLayer", "args": {}}
    (edited / "config.json").write_text(json.dumps(cfg))
    for command in (["evaluate", str(edited)], ["predict", str(edited), "--index", "0"],
                    ["serve", str(edited), "--port", "0"]):
        line = one_error_line(capsys, main(command))
        assert "config.json: architecture: layer 2: unknown layer type 'MyLayer'" in line


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    blocks = re.findall(r"```py\n(.*?)```", README.read_text(), re.S)
    example = [b for b in blocks if "save_run(" in b]
    assert len(example) == 1, "README.md should show save_run once"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(example[0], str(README), "exec"), namespace)
    run = namespace["run"]
    assert run.input_shape == (1, 28, 28) and run.name == "custom"
    assert run.predict(np.zeros((2, 28, 28), np.uint8)).shape == (2,)
    assert sorted(p.name for p in (tmp_path / "runs" / "mine").iterdir()) == ["config.json",
                                                                               "weights.npz"]
