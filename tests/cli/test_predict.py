"""``barenet predict`` for real: hand-over pictures, JSON, top-k, test-set indices, annotated
figures, and per-file errors that do not stop the other files."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from barenet.cli.main import main  # noqa: E402
from barenet.data.datasets import load_dataset  # noqa: E402
from barenet.train.checkpoint import load_run  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("predict") / "run"
    assert main(["train", "--limit-train", "6000", "--epochs", "2", "--limit-test", "500",
                 "--quiet", "--no-plots", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def test_set():
    return load_dataset("mnist", "test")


def render(digit: np.ndarray, path: Path, rng: np.random.Generator, fmt: str = "JPEG",
           dark_on_light: bool = True, mode: str = "RGB") -> Path:
    """An MNIST digit enlarged 3-6x, placed off-centre on a 300x200 canvas."""
    s = int(rng.integers(3, 7))
    ink = digit if not dark_on_light else 255 - digit
    im = Image.fromarray(ink).resize((28 * s, 28 * s), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (300, 200), 255 if dark_on_light else 0)
    canvas.paste(im, (int(rng.integers(0, 300 - 28 * s)), int(rng.integers(0, 200 - 28 * s))))
    canvas.convert(mode).save(path, fmt)
    return path


def _bomb(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 99))
        + chunk(b"IEND", b""))
    return path


def test_hand_over_pictures_are_recognised_like_the_test_set(run_dir, test_set, tmp_path,
                                                              capsys):
    rng = np.random.default_rng(7)
    idx = rng.choice(len(test_set.labels), 60, replace=False)
    files = [str(render(test_set.images[i], tmp_path / f"{i}.jpg", rng)) for i in idx]
    assert main(["predict", str(run_dir), *files, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in results] == files
    pred = np.array([int(r["prediction"]) for r in results])
    original = load_run(run_dir).predict(test_set.images[idx])
    y = test_set.labels[idx]
    assert np.mean(pred == y) >= np.mean(original == y) - 0.05
    assert np.mean(pred == original) >= 0.9


def test_json_fields_and_top_k(run_dir, test_set, tmp_path, capsys):
    rng = np.random.default_rng(1)
    files = [str(render(test_set.images[i], tmp_path / f"t{i}.png", rng, "PNG", mode="L"))
             for i in range(3)]
    assert main(["predict", str(run_dir), *files, "--json", "--top-k", "3"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 3
    for r in results:
        assert set(r) >= {"file", "prediction", "probabilities", "top_k", "confidence"}
        assert list(r["probabilities"]) == [str(d) for d in range(10)]
        assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        probs = [t["probability"] for t in r["top_k"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert r["top_k"][0]["class"] == r["prediction"] and r["confidence"] == probs[0]


def test_text_output(run_dir, test_set, tmp_path, capsys):
    path = render(test_set.images[0], tmp_path / "seven.bmp", np.random.default_rng(0), "BMP")
    assert main(["predict", str(run_dir), str(path), "--top-k", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{path}: 7 (") and line.count("%") == 2


@pytest.mark.parametrize("fmt,mode,dark_on_light", [
    ("PNG", "RGBA", True), ("GIF", "P", True), ("PNG", "L", False), ("JPEG", "L", False)])
def test_formats_and_polarities(run_dir, test_set, tmp_path, capsys, fmt, mode, dark_on_light):
    digit = test_set.images[0]   # a clear 7
    path = render(digit, tmp_path / f"x.{fmt.lower()}", np.random.default_rng(3), fmt,
                  dark_on_light, mode)
    assert main(["predict", str(run_dir), str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["prediction"] == "7"


def test_bad_files_fail_one_by_one(run_dir, test_set, tmp_path, capsys):
    good = render(test_set.images[0], tmp_path / "good.jpg", np.random.default_rng(0))
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), "white").save(blank)
    bomb = _bomb(tmp_path / "bomb.png")
    missing = tmp_path / "missing.png"
    argv = ["predict", str(run_dir), str(text), str(good), str(blank), str(bomb), str(missing)]
    assert main(argv + ["--json"]) == 1
    captured = capsys.readouterr()
    assert [r["file"] for r in json.loads(captured.out)] == [str(good)]
    err = captured.err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("barenet: error: ") for line in err)
    for path, why in ((text, "not a picture"), (blank, "no ink"),
                      (bomb, "decompression bomb"), (missing, "no such file")):
        assert any(str(path) in line and why in line for line in err), (path, err)
    assert "Traceback" not in captured.err


def test_test_set_indices(run_dir, test_set, capsys):
    assert main(["predict", str(run_dir), "--index", "0", "1", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["index"] for r in results] == [0, 1] and results[0]["file"] is None
    assert [r["label"] for r in results] == [str(test_set.labels[0]), str(test_set.labels[1])]
    assert main(["predict", str(run_dir), "--index", "0", "10000"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("test[0] (label 7): ")
    assert "--index 10000: out of range" in captured.err


def test_save_annotated(run_dir, test_set, tmp_path, capsys):
    rng = np.random.default_rng(5)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    files = [render(test_set.images[i], tmp_path / d / "digit.jpg", rng)
             for i, d in ((0, "a"), (1, "b"))]
    out = tmp_path / "annotated"
    assert main(["predict", str(run_dir), *map(str, files), "--index", "2",
                 "--save-annotated", str(out), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    written = sorted(p.name for p in out.iterdir())
    assert written == ["digit_2_annotated.png", "digit_annotated.png", "test_2_annotated.png"]
    assert sorted(Path(r["annotated"]).name for r in results) == written
    for p in out.iterdir():
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] >= 600 and im.size[1] >= 250
            assert np.asarray(im.convert("L"), dtype=float).std() > 5


@pytest.mark.parametrize("argv,match", [
    ([], "give at least one IMAGE or --index N"),
    (["x.png", "--top-k", "0"], "--top-k must be at least 1")])
def test_usage_errors(run_dir, capsys, argv, match):
    assert main(["predict", str(run_dir), *argv]) == 1
    assert match in capsys.readouterr().err


def test_missing_run_is_one_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "nope"), "x.png"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


@pytest.mark.parametrize("order", [
    ["RUN", "--top-k", "3", "IMG", "IMG2"],
    ["RUN", "IMG", "--top-k", "3", "IMG2"],
    ["--top-k", "3", "RUN", "IMG", "IMG2"],
    ["RUN", "IMG", "IMG2", "--top-k", "3"]])
def test_options_may_come_anywhere(run_dir, test_set, tmp_path, capsys, order):
    rng = np.random.default_rng(2)
    img = render(test_set.images[0], tmp_path / "a.png", rng, "PNG")
    img2 = render(test_set.images[1], tmp_path / "b.png", rng, "PNG")
    names = {"RUN": str(run_dir), "IMG": str(img), "IMG2": str(img2)}
    assert main(["predict", *[names.get(a, a) for a in order], "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in results] == [str(img), str(img2)]
    assert all(len(r["top_k"]) == 3 for r in results)


def test_index_after_an_image(run_dir, test_set, tmp_path, capsys):
    img = render(test_set.images[0], tmp_path / "a.png", np.random.default_rng(2), "PNG")
    assert main(["predict", str(run_dir), str(img), "--index", "3", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in results] == [str(img), None] and results[1]["index"] == 3


def test_no_arguments_asks_for_the_run_only(capsys):
    """IMAGE is optional (--index N is the other way), so the usage error names RUN alone."""
    with pytest.raises(SystemExit):
        main(["predict"])
    assert "the following arguments are required: RUN\n" in capsys.readouterr().err
