"""Dataset resolution, checksums, the in-memory cache, downloads, and facts about MNIST."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from barenet.data import datasets
from barenet.data.datasets import dataset_info, download_dataset, load_dataset
from barenet.data.idx import write_idx
from barenet.data.specs import DATASET_NAMES, SPECS, DatasetSpec
from barenet.errors import ConfigError, DataError, IDXError

MNIST_COUNTS = {
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
EMBEDDED = Path(datasets.__file__).resolve().parents[1] / "_data" / "mnist"


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch):
    """No user data directory or mirror override leaks in; the cache is an empty temp dir."""
    monkeypatch.delenv("BARENET_DATA", raising=False)
    monkeypatch.delenv("BARENET_MIRRORS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def make_spec(src: Path, mirrors: tuple[str, ...] = ("http://127.0.0.1:9/",)) -> DatasetSpec:
    """A spec named "tiny" whose checksums are those of the files in ``src``."""
    names = sorted(p.name for p in src.glob("*.gz"))
    return DatasetSpec(
        name="tiny", classes=tuple("abcdefghij"), mean=0.5, std=0.25,
        sha256={n: hashlib.sha256(gzip.decompress((src / n).read_bytes())).hexdigest()
                for n in names},
        md5={n: hashlib.md5((src / n).read_bytes()).hexdigest() for n in names},
        mirrors=mirrors)


@pytest.fixture
def tiny(tiny_files, monkeypatch):
    spec = make_spec(tiny_files)
    monkeypatch.setitem(SPECS, "tiny", spec)
    return spec


# ------------------------------------------------------------------ the real datasets -------
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_mnist_embedded(split, n):
    ds = load_dataset("mnist", split, download=False)
    assert ds.images.shape == (n, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == np.int64
    assert np.bincount(ds.labels, minlength=10).tolist() == MNIST_COUNTS[split]
    assert ds.classes == [str(d) for d in range(10)]
    assert (ds.mean, ds.std) == (0.1307, 0.3081)
    assert ds.sources == ["embedded", "embedded"] and all(p.is_file() for p in ds.files)
    assert not ds.images.flags.writeable and not ds.labels.flags.writeable
    assert len(ds) == n


def test_repeated_loads_come_from_memory():
    a = load_dataset("mnist", "test")
    b = load_dataset("MNIST", "test")
    assert a.images is b.images and a.labels is b.labels


def test_mnist_info_matches_published_facts():
    info = dataset_info("mnist")
    json.dumps(info)
    assert info["counts"] == MNIST_COUNTS
    assert info["num_samples"] == {"train": 60000, "test": 10000}
    assert round(info["pixel_mean"], 4) == 0.1307 and round(info["pixel_std"], 4) == 0.3081
    assert [f["file"] for f in info["files"]] == SPECS["mnist"].files()
    assert all(f["verified"] and f["source"] == "embedded" for f in info["files"])


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="Fashion-MNIST not installed")
def test_fashion_mnist_from_system_copy():
    info = dataset_info("fashion_mnist")
    assert info["counts"] == {"train": [6000] * 10, "test": [1000] * 10}
    assert info["classes"][0] == "T-shirt/top" and info["classes"][-1] == "Ankle boot"
    assert round(info["pixel_mean"], 4) == 0.2860 and round(info["pixel_std"], 4) == 0.3530
    assert {f["source"] for f in info["files"]} == {"system"}
    ds = load_dataset("fashion-mnist", "test", download=False)
    assert ds.images.shape == (10000, 28, 28) and (ds.mean, ds.std) == (0.2860, 0.3530)


@pytest.mark.parametrize("name", list(DATASET_NAMES))
def test_specs_are_complete(name):
    spec = SPECS[name]
    assert len(spec.classes) == 10 and 0 < spec.mean < 1 and 0 < spec.std < 1
    for f in spec.files():
        assert len(spec.sha256[f]) == 64 and len(spec.md5[f]) == 32
    assert spec.mirrors and all(m.startswith("http") for m in spec.mirrors)


def test_unknown_name_and_split():
    with pytest.raises(ConfigError, match="unknown dataset 'cifar'.*mnist, fashion-mnist"):
        load_dataset("cifar", "train")
    with pytest.raises(ConfigError, match="unknown split 'val'.*train, test"):
        load_dataset("mnist", "val")
    with pytest.raises(ConfigError, match="unknown dataset"):
        dataset_info("emnist")


# --------------------------------------------------------------------- data_dir ------------
def copy_test_split(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(EMBEDDED / name, dest / name)
    return dest


def test_data_dir_copy_is_used(tmp_path):
    ds = load_dataset("mnist", "test", data_dir=copy_test_split(tmp_path / "d"))
    assert ds.sources == ["data_dir", "data_dir"]
    assert ds.files[0] == tmp_path / "d" / "t10k-images-idx3-ubyte.gz"


def test_sha256_mismatch_is_detected(tmp_path):
    d = copy_test_split(tmp_path / "d")
    labels = d / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[8 + 5] = (raw[8 + 5] + 1) % 10  # still a valid label: only the checksum can tell
    labels.write_bytes(gzip.compress(bytes(raw)))
    got = hashlib.sha256(bytes(raw)).hexdigest()
    with pytest.raises(DataError) as err:
        load_dataset("mnist", "test", data_dir=d)
    msg = str(err.value)
    assert type(err.value) is DataError
    assert str(labels) in msg and SPECS["mnist"].sha256[labels.name] in msg and got in msg


def test_corrupt_gzip_in_data_dir(tmp_path):
    d = copy_test_split(tmp_path / "d")
    images = d / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: 100000])
    with pytest.raises(IDXError, match="t10k-images-idx3-ubyte.gz: corrupt gzip"):
        load_dataset("mnist", "test", data_dir=d)


def test_data_dir_missing_file_is_an_error_not_a_fallback(tmp_path):
    d = copy_test_split(tmp_path / "d")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: not found"):
        load_dataset("mnist", "test", data_dir=d)
    with pytest.raises(DataError, match="nowhere: data directory not found"):
        load_dataset("mnist", "test", data_dir=tmp_path / "nowhere")


def test_changed_file_is_reread_not_served_from_memory(tmp_path, tiny, tiny_files):
    ds = load_dataset("tiny", "test", data_dir=tiny_files)
    assert ds.labels.tolist() == list(range(10))
    labels = tiny_files / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(10, np.uint8))
    os.utime(labels, ns=(1, 1))
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_dataset("tiny", "test", data_dir=tiny_files)


def test_count_mismatch_and_label_range(tiny_files, monkeypatch):
    write_idx(tiny_files / "train-labels-idx1-ubyte.gz", np.zeros(29, np.uint8))
    write_idx(tiny_files / "t10k-labels-idx1-ubyte.gz", np.full(10, 10, np.uint8))
    monkeypatch.setitem(SPECS, "tiny", make_spec(tiny_files))
    with pytest.raises(IDXError, match="holds 30 images but .*holds 29 labels"):
        load_dataset("tiny", "train", data_dir=tiny_files)
    with pytest.raises(IDXError, match="label 10 at index 0 is out of range"):
        load_dataset("tiny", "test", data_dir=tiny_files)


def test_barenet_data_env(tmp_path, tiny, tiny_files, monkeypatch):
    monkeypatch.setenv("BARENET_DATA", str(tmp_path / "root"))
    with pytest.raises(DataError, match="downloading is off"):
        load_dataset("tiny", "train", download=False)
    shutil.copytree(tiny_files, tmp_path / "root" / "tiny")
    ds = load_dataset("tiny", "train", download=False)
    assert ds.sources == ["BARENET_DATA"] * 2 and ds.images.shape == (30, 28, 28)
    assert ds.classes == list("abcdefghij")


# --------------------------------------------------------------------- downloads -----------
@pytest.fixture
def served(http_root, tiny_files):
    """Mirror base URLs: ``good`` serves the tiny files, ``bad`` serves nothing (404)."""
    root, base = http_root
    shutil.copytree(tiny_files, root / "good")
    return {"good": f"{base}/good/", "bad": f"{base}/bad/"}


def test_download_into_cache_then_reuse(tmp_path, tiny_files, served, monkeypatch):
    monkeypatch.setitem(SPECS, "tiny", make_spec(tiny_files, (served["bad"], served["good"])))
    calls = []
    ds = load_dataset("tiny", "train", progress=lambda d, t: calls.append((d, t)))
    cache = tmp_path / "xdg" / "barenet" / "tiny"
    assert ds.sources == ["downloaded"] * 2 and ds.files[0].parent == cache
    assert sorted(p.name for p in cache.iterdir()) == ["train-images-idx3-ubyte.gz",
                                                      "train-labels-idx1-ubyte.gz"]
    assert calls and calls[-1][0] == calls[-1][1]
    assert load_dataset("tiny", "train").sources == ["cache"] * 2


def test_download_uses_mirror_override(tmp_path, tiny, served, monkeypatch):
    with pytest.raises(DataError, match="download failed from every mirror: http://127.0.0.1:9/"):
        load_dataset("tiny", "test")
    monkeypatch.setenv("BARENET_MIRRORS", served["good"])
    assert load_dataset("tiny", "test").sources == ["downloaded"] * 2
    monkeypatch.delenv("BARENET_MIRRORS")
    paths = download_dataset("tiny", data_dir=tmp_path / "explicit", mirrors=[served["good"]])
    assert [p.name for p in paths] == tiny.files()
    assert load_dataset("tiny", "train", data_dir=tmp_path / "explicit").sources == \
        ["data_dir"] * 2


def test_downloaded_file_with_wrong_md5_is_not_kept(tmp_path, tiny_files, served, monkeypatch):
    spec = make_spec(tiny_files, (served["good"],))
    spec.md5["train-images-idx3-ubyte.gz"] = "0" * 32
    monkeypatch.setitem(SPECS, "tiny", spec)
    with pytest.raises(DataError, match="md5 mismatch"):
        load_dataset("tiny", "train")
    cache = tmp_path / "xdg" / "barenet" / "tiny"
    assert not cache.exists() or list(cache.iterdir()) == []
