"""Storages a search cannot use are refused in one line, before anything is written: an
in-memory database (the study would be lost with the process), and a database whose driver is
not installed (the hint names the package to install)."""
from __future__ import annotations

import sys

import pytest
from error_checks import one_error_line

from barenet.cli.main import main
from barenet.errors import ConfigError
from barenet.tune import open_storage, search

pytest.importorskip("optuna")

MEMORY = ["sqlite:///:memory:", "sqlite://", "sqlite:///", "SQLite:///:memory:",
          "sqlite+pysqlite:///:memory:", "sqlite:///file::memory:?cache=shared&uri=true",
          "sqlite:///file:x.db?mode=memory&uri=true"]


@pytest.mark.parametrize("url", MEMORY)
def test_an_in_memory_storage_is_refused_leaving_nothing_behind(url, tmp_path, capsys):
    out = tmp_path / "T"
    rc = main(["tune", "--trials", "1", "--epochs", "1", "--storage", url, "--out", str(out)])
    line = one_error_line(capsys, rc)
    assert "memory" in line and "--storage" in line
    assert not out.exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    rc = main(["tune", "--trials", "1", "--storage", url, "--out", str(mine)])
    one_error_line(capsys, rc)
    assert mine.is_dir() and not any(mine.iterdir())


def test_search_itself_refuses_an_in_memory_storage(tmp_path):
    with pytest.raises(ConfigError, match="memory"):
        search({"epochs": 1}, ["lr"], 1, tmp_path / "T", storage="sqlite:///:memory:")
    assert not (tmp_path / "T").exists()


@pytest.mark.parametrize("url, module, package", [
    ("mysql://bob:hunter2secret@127.0.0.1:1/db", "MySQLdb", "mysqlclient"),
    ("mysql+pymysql://bob:hunter2secret@127.0.0.1:1/db", "pymysql", "PyMySQL"),
])
def test_a_missing_driver_names_the_package_to_install(url, module, package, tmp_path,
                                                       capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)
    rc = main(["tune", "--trials", "1", "--storage", url, "--out", str(tmp_path / "T")])
    line = one_error_line(capsys, rc)
    scheme = url.partition("://")[0]
    assert line == (f"barenet: error: tune: storage {scheme}://bob:***@127.0.0.1:1/db needs "
                    f"the database driver {module}: pip install {package}")
    assert not (tmp_path / "T").exists()


def test_open_storage_missing_driver_hint_is_clean(monkeypatch):
    monkeypatch.setitem(sys.modules, "MySQLdb", None)
    with pytest.raises(ConfigError) as info:
        open_storage("mysql://bob@127.0.0.1:1/db")
    assert str(info.value).endswith("needs the database driver MySQLdb: pip install mysqlclient")
