"""Fixtures for the data tests: tiny synthetic IDX datasets and a local HTTP server."""
from __future__ import annotations

import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from barenet.data.idx import write_idx


@pytest.fixture
def tiny_files(tmp_path: Path) -> Path:
    """A directory holding the four .gz files of a tiny 28x28, 10-class dataset (30 + 10)."""
    rng = np.random.default_rng(7)
    root = tmp_path / "tiny-src"
    root.mkdir()
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return root


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files under the server's root; ``/short/<n>`` promises 1000 bytes, sends ``n``."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.startswith("/short/"):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * int(self.path.split("/")[2]))
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def http_root(tmp_path: Path):
    """``(root_dir, base_url)``: a threaded HTTP server on 127.0.0.1 serving ``root_dir``."""
    root = tmp_path / "www"
    root.mkdir()

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
