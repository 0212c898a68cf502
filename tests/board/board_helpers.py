"""Helpers of the board tests (imported by name: every test folder has its own conftest.py):
copy a run with a metrics.csv of the test's choosing, serve a board from a thread, a tiny HTTP
client that reads JSON strictly."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from http_client import HTTPClient, running  # noqa: F401  (running: re-exported for the board tests)

HEADER = "epoch,train_loss,train_acc,val_loss,val_acc,lr,seconds"


def copy_run(trained: Path, dest: Path, metrics: str | bytes | None = None) -> Path:
    """A run folder ``dest`` with ``trained``'s config.json and trainer.json, and ``metrics``
    as its metrics.csv (None: the trained run's own)."""
    dest.mkdir(parents=True)
    for name in ("config.json", "trainer.json"):
        shutil.copyfile(trained / name, dest / name)
    data = (trained / "metrics.csv").read_bytes() if metrics is None else metrics
    (dest / "metrics.csv").write_bytes(data.encode() if isinstance(data, str) else data)
    return dest


class Client(HTTPClient):
    """The HTTP client of tests/http_client.py, for the server ``srv``."""

    def __init__(self, srv: Any) -> None:
        super().__init__(*srv.server_address[:2])


