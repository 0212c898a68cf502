"""``barenet train --dataset DIR`` on a folder of IDX files (26 classes of 16x16 images), then
evaluate, predict and serve from the run alone; broken folders and moved data in one line."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL")
from error_checks import one_error_line  # noqa: E402
from idx_folders import LETTERS, write_idx_folder  # noqa: E402
from PIL import Image  # noqa: E402

from barenet.cli.main import main  # noqa: E402
from barenet.data.idx import write_idx  # noqa: E402
from barenet.train.checkpoint import load_run  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_idx_folder(tmp_path_factory.mktemp("data") / "Letters", names=LETTERS)


@pytest.fixture(scope="module")
def run_dir(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "letters"
    assert main(["train", "--dataset", str(folder), "--epochs", "1", "--batch-size", "32",
                 "--quiet", "--out", str(out)]) == 0
    return out


def png_bytes(side: int = 90) -> bytes:
    """Dark ink on white: a blob in the upper left."""
    img = np.full((side, side), 255, np.uint8)
    img[10:40, 15:45] = 0
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def test_the_run_records_the_folder_facts(run_dir, folder):
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["dataset"] == "Letters" and cfg["classes"] == LETTERS
    assert cfg["data_dir"] == str(folder.resolve())
    assert cfg["model"] == {"name": "mlp", "hidden": 200, "num_classes": 26, "image_size": 16}
    assert cfg["input_shape"] == [256]
    facts = cfg["dataset_facts"]
    assert facts["counts"] == {"train": 312, "test": 78} and facts["image_size"] == [16, 16]
    assert set(facts["sha256"]) == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                    "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    assert (run_dir / "confusion_matrix.png").is_file()
    run = load_run(run_dir)
    assert run.image_size == 16 and run.dataset_spec.num_classes == 26


def test_evaluate_finds_the_folder_again(run_dir, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json", "--no-plots"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n"] == 78 and [c["class"] for c in doc["per_class"]] == LETTERS
    assert doc["dataset"] == "Letters"


def test_evaluate_a_moved_folder_and_verify_it(run_dir, folder, tmp_path, capsys):
    moved = tmp_path / "run"
    shutil.copytree(run_dir, moved)
    cfg = json.loads((moved / "config.json").read_text())
    cfg["data_dir"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(cfg))
    capsys.readouterr()
    line = one_error_line(capsys, main(["evaluate", str(moved), "--no-plots"]))
    assert "use --data-dir" in line
    copy = shutil.copytree(folder, tmp_path / "copy")
    assert main(["evaluate", str(moved), "--no-plots", "--data-dir", str(copy)]) == 0
    capsys.readouterr()
    write_idx(copy / "t10k-labels-idx1-ubyte.gz", np.zeros(78, np.uint8))
    line = one_error_line(capsys, main(["evaluate", str(moved), "--data-dir", str(copy)]))
    assert "t10k-labels-idx1-ubyte.gz: sha256 mismatch" in line


def test_predict_gives_one_of_the_names(run_dir, tmp_path, capsys):
    picture = tmp_path / "blob.png"
    picture.write_bytes(png_bytes())
    capsys.readouterr()
    assert main(["predict", str(run_dir), str(picture), "--index", "0", "1", "--top-k", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["prediction"] in LETTERS for r in out] == [True] * 3
    assert len(out[0]["probabilities"]) == 26 and [r.get("label") for r in out] == [None, "A", "B"]


def test_predict_needs_no_folder(run_dir, tmp_path, capsys):
    moved = shutil.copytree(run_dir, tmp_path / "run")
    cfg = json.loads((moved / "config.json").read_text())
    cfg["data_dir"] = str(tmp_path / "gone")
    (moved / "config.json").write_text(json.dumps(cfg))
    picture = tmp_path / "blob.png"
    picture.write_bytes(png_bytes())
    capsys.readouterr()
    assert main(["predict", str(moved), str(picture)]) == 0
    assert capsys.readouterr().out.split(": ")[1].split(" ")[0] in LETTERS


def test_serve_predicts_one_of_the_names(run_dir):
    from barenet.serve.app import App

    app = App(load_run(run_dir))
    info = app.model_info()
    assert info["classes"] == LETTERS and info["dataset"] == "Letters"
    answer = app.predict("image/png", png_bytes())
    assert answer["label"] in LETTERS and len(answer["input"]) == 256
    sample = app.sample({"index": ["5"]})
    assert sample["label_name"] == "F" and len(sample["pixels"]) == 256
    again = app.predict("application/json", json.dumps({"pixels": sample["pixels"]}).encode())
    assert again["label"] in LETTERS and len(again["probabilities"]) == 26


def test_serve_over_http(run_dir):
    import http.client
    import threading

    from barenet.serve import make_server

    server = make_server(load_run(run_dir), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection(*server.server_address[:2], timeout=20)
        conn.request("POST", "/api/predict", png_bytes(), {"Content-Type": "image/png"})
        res = conn.getresponse()
        assert res.status == 200 and json.loads(res.read())["label"] in LETTERS
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


def test_a_broken_folder_fails_in_one_line(folder, tmp_path, capsys):
    broken = shutil.copytree(folder, tmp_path / "broken")
    path = broken / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:300])
    out = tmp_path / "run"
    capsys.readouterr()
    line = one_error_line(capsys, main(["train", "--dataset", str(broken), "--epochs", "1",
                                        "--quiet", "--out", str(out)]))
    assert str(path) in line and not out.exists()
    line = one_error_line(capsys, main(["train", "--dataset", str(tmp_path / "nothing"),
                                        "--quiet", "--out", str(out)]))
    assert "not a directory" in line


def test_image_models_fit_the_folder(folder, tmp_path, capsys):
    out = tmp_path / "cnn"
    assert main(["train", "--dataset", str(folder), "--model", "cnn", "--epochs", "1",
                 "--quiet", "--no-plots", "--out", str(out)]) == 0
    run = load_run(out)
    assert run.input_shape == (1, 16, 16)
    assert run.predict_proba(np.zeros((2, 16, 16), np.uint8)).shape == (2, 26)


def test_attack_and_explain_work_on_its_image_size(run_dir, capsys):
    """FGSM and input gradients on the folder's own (not 28x28) pictures."""
    assert main(["attack", str(run_dir), "--limit", "20", "--eps", "0,0.1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["n"] == 20 and len(report["accuracy"]) == 2
    assert main(["explain", str(run_dir), "--index", "0", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc[0]["label"] in json.loads((run_dir / "config.json").read_text())["classes"]
