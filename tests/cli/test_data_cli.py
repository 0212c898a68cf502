"""`barenet data info` and `barenet data download` run for real."""
import json
from pathlib import Path

import pytest

from barenet.cli.main import main

MNIST = Path(__import__("barenet").__file__).parent / "_data" / "mnist"


def test_info_on_the_embedded_mnist(capsys):
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "embedded" in out and "ok" in out
    assert "5923" in out and "1135" in out and "60000" in out and "10000" in out
    assert "0.1307" in out and "0.3081" in out


def test_info_json(capsys):
    assert main(["data", "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["counts"]["train"][0] == 5923 and info["num_samples"]["test"] == 10000
    assert all(f["verified"] for f in info["files"]) and len(info["files"]) == 4


def test_info_with_a_file_missing_is_one_line(tmp_path, capsys):
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).symlink_to(MNIST / name)
    assert main(["data", "info", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train-labels-idx1-ubyte.gz" in err[0]


def test_unknown_dataset_is_one_line(capsys):
    assert main(["data", "info", "--dataset", "imagenet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown dataset 'imagenet'" in err[0]


def test_download_into_a_dir_that_has_every_file(tmp_path, capsys):
    for path in MNIST.glob("*.gz"):
        (tmp_path / path.name).symlink_to(path)
    assert main(["data", "download", "--data-dir", str(tmp_path)]) == 0
    assert "verified" in capsys.readouterr().out


def test_data_without_an_action_shows_help(capsys):
    assert main(["data"]) == 2
    assert "info" in capsys.readouterr().err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["data", "info", "--help"])
    assert "examples:" in capsys.readouterr().out


def test_info_help_does_not_promise_a_download_it_will_not_do(capsys):
    with pytest.raises(SystemExit):
        main(["data", "info", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "downloading if needed" not in out
    assert "--download to fetch missing files" in out


def test_info_without_download_names_the_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BARENET_DATA", str(tmp_path))
    assert main(["data", "info"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "downloading is off" in err[0], err
    assert err[0].endswith("; add --download to fetch it from the official mirrors")
    assert list(tmp_path.iterdir()) == []


def test_download_help_names_the_deadline(capsys):
    with pytest.raises(SystemExit):
        main(["data", "download", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "BARENET_DOWNLOAD_DEADLINE" in out and "10 minutes" in out
