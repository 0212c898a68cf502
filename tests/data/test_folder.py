"""Datasets from a folder of IDX files: facts measured, hostile folders refused in one line,
facts recorded and read back, specs without mirrors, and what the memory estimate reads."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from idx_folders import LETTERS, write_idx_folder

from barenet.data.datasets import clear_cache, load_dataset
from barenet.data.facts import spec_from_facts, spec_to_facts
from barenet.data.folder import dataset_spec, is_folder_name, read_folder
from barenet.data.idx import write_idx
from barenet.data.specs import SPECS, DatasetSpec, get_spec
from barenet.errors import ConfigError, DataError, IDXError
from barenet.train.memory import dataset_counts


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    monkeypatch.delenv("BARENET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    clear_cache()


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_builtin_specs_carry_their_facts():
    mnist, fashion = get_spec("mnist"), get_spec("fashion-mnist")
    assert mnist.num_classes == 10 and mnist.image_size == (28, 28) and mnist.channels == 1
    assert mnist.counts == {"train": 60000, "test": 10000} == fashion.counts
    assert (mnist.picture_style, fashion.picture_style) == ("digit", "clothing")
    assert mnist.input_facts == {"num_classes": 10, "image_size": 28}


def test_folder_with_classes_txt(tmp_path):
    root = write_idx_folder(tmp_path / "letters", names=LETTERS)
    spec, arrays = read_folder(root)
    assert spec.name == "letters" and spec.classes == tuple(LETTERS) and spec.num_classes == 26
    assert spec.image_size == (16, 16) and spec.counts == {"train": 312, "test": 78}
    assert spec.mirrors == () and spec.picture_style == "digit"
    images = arrays["train-images-idx3-ubyte.gz"][1]
    assert spec.mean == pytest.approx(images.mean() / 255, abs=1e-6)
    assert spec.std == pytest.approx((images / 255).std(), abs=1e-6)
    raw = gzip.decompress((root / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert spec.sha256["t10k-labels-idx1-ubyte.gz"] == hashlib.sha256(raw).hexdigest()
    ds = load_dataset(str(root), "test")
    assert ds.images.shape == (78, 16, 16) and ds.classes == LETTERS and ds.sources[0] == "data_dir"
    assert is_folder_name(str(root)) and not is_folder_name("MNIST")


def test_folder_without_names_uses_label_values_and_plain_files(tmp_path):
    root = write_idx_folder(tmp_path / "plain", num_classes=12, side=28, gz=False)
    spec = dataset_spec(str(root))
    assert spec.classes == tuple(str(k) for k in range(12)) and spec.image_size == (28, 28)
    assert spec.splits["train"] == ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    assert dataset_spec(str(root)) is spec          # read once while the files stay the same


def test_facts_round_trip_and_verify_a_moved_copy(tmp_path):
    root = write_idx_folder(tmp_path / "a", names=LETTERS)
    spec = dataset_spec(str(root))
    back = spec_from_facts(spec_to_facts(spec), "config.json")
    assert back == spec
    moved = root.rename(tmp_path / "b")
    assert load_dataset(back, "train", data_dir=moved).labels.shape == (312,)
    write_idx(moved / "t10k-labels-idx1-ubyte.gz", np.zeros(78, np.uint8))
    with pytest.raises(DataError, match="sha256 mismatch") as exc:
        load_dataset(back, "test", data_dir=moved)
    assert str(moved / "t10k-labels-idx1-ubyte.gz") in one_line(exc)


@pytest.mark.parametrize("edit, expected", [
    (lambda f: f.update(files={"train": ["../../etc/passwd", "x"], "test": ["a", "b"]}),
     "'files' must map"),
    (lambda f: f.update(classes=["a"] * 3), "appears twice"),
    (lambda f: f.update(classes=["ok", "bad\nname"]), "printable"),
    (lambda f: f.update(image_size=[16, 20]), "'image_size' must be [S, S]"),
    (lambda f: f.update(image_size=[10**6, 10**6]), "'image_size' must be an integer"),
    (lambda f: f["sha256"].update({"train-images-idx3-ubyte.gz": "zz"}), "'sha256' must give"),
    (lambda f: f.update(std=0), "'std' must be a finite number > 0"),
    (lambda f: f.update(picture_style="cartoon"), "'picture_style' must be one of"),
    (lambda f: f.update(counts={"train": -1, "test": 1}), "'counts.train'"),
])
def test_hostile_facts_are_refused(tmp_path, edit, expected):
    facts = spec_to_facts(dataset_spec(str(write_idx_folder(tmp_path / "d", names=LETTERS))))
    edit(facts)
    with pytest.raises(DataError) as exc:
        spec_from_facts(facts, "run/config.json: 'dataset_facts'")
    assert expected in one_line(exc) and one_line(exc).startswith("run/config.json")


def _relabel(root: Path, train: np.ndarray, test: np.ndarray | None = None) -> None:
    write_idx(root / "train-labels-idx1-ubyte.gz", train)
    if test is not None:
        write_idx(root / "t10k-labels-idx1-ubyte.gz", test)


@pytest.mark.parametrize("damage, names, expected", [
    (lambda r: (r / "t10k-images-idx3-ubyte.gz").write_bytes(
        (r / "t10k-images-idx3-ubyte.gz").read_bytes()[:200]), None,
     "t10k-images-idx3-ubyte.gz: corrupt gzip stream"),
    (lambda r: (r / "train-labels-idx1-ubyte.gz").unlink(), None,
     "train-labels-idx1-ubyte[.gz]: not found"),
    (lambda r: _relabel(r, np.full(312, 7, np.int32).astype(np.int32) * 200), None,
     "label 1400 at index 0 is out of range, expected 0..999"),
    (lambda r: _relabel(r, (np.arange(312) % 5 * 2).astype(np.uint8),
                        (np.arange(78) % 5 * 2).astype(np.uint8)), None,
     "labels must be 0..8 with every class present, but 4 never appear (1, 3, 5, 7)"),
    (lambda r: None, LETTERS[:20], "label 20 at index 20 is out of range, expected 0..19"),
    (lambda r: write_idx(r / "t10k-images-idx3-ubyte.gz", np.zeros((78, 16, 17), np.uint8)),
     None, "expected square images"),
    (lambda r: write_idx(r / "t10k-images-idx3-ubyte.gz", np.zeros((78, 12, 12), np.uint8)),
     None, "12x12 images, expected 16x16 as in the training set"),
    (lambda r: write_idx(r / "train-images-idx3-ubyte", np.zeros((1, 16, 16), np.uint8)), None,
     "both train-images-idx3-ubyte and train-images-idx3-ubyte.gz are present"),
    (lambda r: None, ["a", "a"] + LETTERS[2:], "class name 'a' appears twice"),
    (lambda r: (r / "classes.txt").write_bytes(b"x" * 70000), None, "more than 65536 bytes"),
    (lambda r: (r / "classes.txt").write_bytes(b"\xff\xfe\n"), None, "not UTF-8 text"),
])
def test_broken_folders_fail_in_one_line_naming_the_file(tmp_path, damage, names, expected):
    root = write_idx_folder(tmp_path / "d", names=names)
    damage(root)
    with pytest.raises(DataError) as exc:
        dataset_spec(str(root))
    assert expected in one_line(exc)


def test_truncated_plain_file_is_an_idx_error(tmp_path):
    root = write_idx_folder(tmp_path / "d", gz=False)
    path = root / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte: truncated, expected 79888 "
                                       r"bytes of pixels, got 1000"):
        dataset_spec(str(root))


def test_unknown_names_and_missing_folders():
    with pytest.raises(ConfigError, match="or a folder holding the four IDX files"):
        dataset_spec("emnist")
    with pytest.raises(DataError, match="not a directory"):
        dataset_spec("./no/such/folder")


def test_spec_without_mirrors_says_to_use_data_dir(tmp_path, monkeypatch):
    spec = DatasetSpec(name="local", classes=("a", "b"), mean=0.5, std=0.25,
                       sha256={}, md5={}, mirrors=())
    monkeypatch.setitem(SPECS, "local", spec)
    for call in (lambda: load_dataset("local", "train"),
                 lambda: __import__("barenet.data.datasets", fromlist=["x"]).download_dataset(
                     "local", data_dir=tmp_path / "empty")):
        with pytest.raises(DataError) as exc:
            call()
        assert "use --data-dir" in one_line(exc) and "no download mirrors" in one_line(exc)


def test_memory_estimate_reads_counts_from_the_spec(tmp_path):
    assert dataset_counts("mnist") == (60000, 10000, 784)
    root = write_idx_folder(tmp_path / "d", names=LETTERS)
    assert dataset_counts(str(root)) == (312, 78, 256)
    from barenet.train.config import resolve_config
    from barenet.train.memory import training_bytes

    small = training_bytes(resolve_config({"dataset": str(root), "batch_size": 8}))
    big = training_bytes(resolve_config({"dataset": "mnist", "batch_size": 8}))
    assert small < big - 2 * 784 * 60000    # MNIST's images alone are more than the difference
