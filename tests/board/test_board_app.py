"""``barenet board``'s routes over real HTTP: the listing, a real run's curves, hostile
metrics.csv files (huge, binary, NaN, ragged, half-written, symlinked, a FIFO), names that try
to be paths, figures, the Host check and the methods."""
from __future__ import annotations

import os
import shlex
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from board_helpers import HEADER, Client, copy_run, running

from barenet.board import make_board_server
from barenet.board.app import FIGURES, LISTING_SECONDS, MAX_FIGURE_BYTES, MAX_SELECTED
from barenet.board.curves import MAX_CSV_BYTES
from barenet.plots import read_metrics_csv
from barenet.train.listing import list_runs

NAN_ROWS = HEADER + "\n1,nan,0.5,inf,-inf,abc,1\n2,0.4,,0.3,0.6,1e400,1\n"
RAGGED = (HEADER + "\n1,0.9,0.5,0.8,0.6,0.1,1\n"
          "2,0.8,0.5,0.7,0.6,0.1,1,extra\n"    # more fields than the header: skipped
          "\n"                                 # a blank line: skipped
          "x,0.7\n"                            # an epoch that is not a number: skipped
          "2.5,0.7\n"                          # nor a whole one
          "1,0.7\n"                            # nor above the previous
          "3,0.6\n")                           # fewer fields: the rest are null


@pytest.fixture(scope="module")
def root(trained: Path, clipped: Path, tmp_path_factory) -> Path:
    """A folder of runs: the real one, one that clipped its gradients, and runs whose
    metrics.csv is hostile."""
    root = tmp_path_factory.mktemp("board-root")
    real = copy_run(trained, root / "real")
    copy_run(clipped, root / "clipped")
    for name in FIGURES:
        if (trained / name).exists():
            (real / name).write_bytes((trained / name).read_bytes())
    copy_run(trained, root / "nan", NAN_ROWS)
    copy_run(trained, root / "ragged", RAGGED)
    copy_run(trained, root / "partial", HEADER + "\n1,0.9,0.5,0.8,0.6,0.1,1\n2,0.8,0.")
    copy_run(trained, root / "binary", b"epoch,train_loss\n1,\x00\xff\xfe" + os.urandom(512))
    copy_run(trained, root / "latin1", "epoch,train_loss\n1,0.5\n# caf\xe9\n".encode("latin-1"))
    copy_run(trained, root / "noepoch", "loss,acc\n0.5,0.9\n")
    with open(copy_run(trained, root / "huge", "") / "metrics.csv", "r+b") as fh:
        fh.truncate(MAX_CSV_BYTES + 1)   # sparse: no time spent writing it
    copy_run(trained, root / "junk", "epoch,<script>,train_loss,grad_norm/../../x,train_loss\n"
                                     "1,1,0.5,2,9\n")
    link = copy_run(trained, root / "link-file")
    (link / "metrics.csv").unlink()
    (link / "metrics.csv").symlink_to(trained / "metrics.csv")
    fifo = copy_run(trained, root / "fifo")
    (fifo / "metrics.csv").unlink()
    os.mkfifo(fifo / "metrics.csv")   # a read would block forever
    (root / "link-run").symlink_to(real, target_is_directory=True)
    fake = copy_run(trained, root / "fake-figures")
    (fake / "curves.png").write_text("not a picture")
    (fake / "confusion_matrix.png").symlink_to(real / "curves.png")
    with open(fake / "misclassified.png", "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(MAX_FIGURE_BYTES + 1)
    (root / "not-a-run").mkdir()
    return root


@pytest.fixture(scope="module")
def client(root: Path):
    with running(make_board_server(root, "127.0.0.1", 0)) as srv:
        yield Client(srv)


def curves(client: Client, *names: str) -> dict:
    status, doc = client.get("/api/curves?" + "&".join(f"run={quote(n)}" for n in names))
    assert status == 200, doc
    return {r["name"]: r for r in doc["runs"]}


def test_the_page_and_its_files(client) -> None:
    status, headers, body = client.request("GET", "/")
    assert status == 200 and b"board.js" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    for name in ("board.js", "runs.js", "charts.js", "board.css"):
        assert client.request("GET", f"/static/{name}")[0] == 200
    assert client.request("GET", "/favicon.ico")[1]["content-type"] == "image/png"
    assert client.get("/static/app.py")[0] == 404
    assert client.get("/static/../app.py")[0] == 404


def test_the_runs_are_those_barenet_runs_lists(client, root) -> None:
    status, doc = client.get("/api/runs")
    assert status == 200
    listed, others = list_runs(root)
    assert [r["name"] for r in doc["runs"]] == [r["name"] for r in listed]
    assert doc["others"] == len(others) == 1
    by = {r["name"]: r for r in doc["runs"]}
    real = by["real"]
    assert real["status"] == "finished" and real["model"] == "mlp" and real["epochs"] == 3
    assert real["serve"] == f"barenet serve {shlex.quote(str(root / 'real'))}"
    assert "curves.png" in real["figures"] and "gradient_flow.png" in real["figures"]
    assert by["link-run"]["symlink"] and by["link-run"]["figures"] == []
    assert not real["symlink"]
    # only real pictures that are plain files are offered
    assert by["fake-figures"]["figures"] == ["curves.png", "misclassified.png"]


def test_a_real_runs_curves_are_its_metrics_csv(client, root) -> None:
    run = curves(client, "real")["real"]
    rows = read_metrics_csv(root / "real" / "metrics.csv")   # the figures' own reader
    assert run["error"] is None and run["rows"] == len(rows) == 3
    assert run["epoch"] == [1, 2, 3]
    for column in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert run["series"][column] == [r[column] for r in rows]
    grads = run["diagnostics"]["grad_norm"]
    assert set(grads) == {"0.weight", "2.weight"}           # weights only, as in the figure
    assert grads["0.weight"] == [r["grad_norm/0.weight"] for r in rows]
    assert set(run["diagnostics"]["dead_relu"]) == {"1"}
    assert run["test_accuracy"] is not None and run["status"] == "finished"


def test_a_clipped_runs_clipping_reaches_the_page(client, root) -> None:
    both = curves(client, "clipped", "real")
    run = both["clipped"]
    rows = read_metrics_csv(root / "clipped" / "metrics.csv")
    assert run["error"] is None and run["epoch"] == [1, 2]
    assert set(run["clip"]) == {"max_norm", "total_norm", "fraction_clipped"}
    for name, values in run["clip"].items():
        assert values == [r[f"clip/{name}"] for r in rows]
    assert run["clip"]["max_norm"] == [1.0, 1.0]
    assert all(0 <= v <= 1 for v in run["clip"]["fraction_clipped"])
    assert run["ignored_columns"] == 4        # the biases' grad_norm and update_ratio
    assert set(run["diagnostics"]["grad_norm"]) == {"0.weight", "2.weight"}
    assert both["real"]["clip"] == {}        # trained without --clip-grad-norm


@pytest.mark.parametrize("name", ["nan", "partial", "binary", "link-run"])
def test_no_clipping_without_the_columns(client, name) -> None:
    assert curves(client, name)[name]["clip"] == {}


@pytest.mark.parametrize("name, error", [
    ("binary", "binary data"), ("latin1", "not UTF-8"), ("noepoch", "no 'epoch' column"),
    ("huge", "more than the limit"), ("link-file", "symbolic link"), ("fifo", "not a regular"),
])
def test_a_hostile_metrics_csv_is_that_runs_error(client, name, error) -> None:
    both = curves(client, name, "real")
    assert error in both[name]["error"] and "\n" not in both[name]["error"]
    assert both[name]["epoch"] == [] and both[name]["series"] == {}
    assert both["real"]["error"] is None and both["real"]["rows"] == 3   # the others still draw


def test_nan_and_infinity_become_gaps(client) -> None:
    run = curves(client, "nan")["nan"]    # strict JSON: the client refuses NaN literals
    assert run["epoch"] == [1, 2]
    s = run["series"]
    assert s["train_loss"] == [None, 0.4] and s["val_loss"] == [None, 0.3]
    assert s["val_acc"] == [None, 0.6]
    assert "lr" not in s                  # a column with no number at all is left out
    assert s["train_acc"] == [0.5, None]


def test_ragged_rows_are_skipped_or_filled(client) -> None:
    run = curves(client, "ragged")["ragged"]
    assert run["epoch"] == [1, 3] and run["skipped"] == 5
    assert run["series"]["train_loss"] == [0.9, 0.6]
    assert run["series"]["val_loss"] == [0.8, None]


def test_a_half_written_last_line_waits(client) -> None:
    run = curves(client, "partial")["partial"]
    assert run["epoch"] == [1] and run["partial_line"] and run["error"] is None


def test_unknown_columns_are_never_echoed(client) -> None:
    status, _, body = client.request("GET", "/api/curves?run=junk")
    assert status == 200 and b"script" not in body and b"../" not in body
    run = curves(client, "junk")["junk"]
    assert run["series"] == {"train_loss": [0.5]} and run["ignored_columns"] == 3


def test_a_symlinked_run_is_listed_but_not_read(client) -> None:
    run = curves(client, "link-run")["link-run"]
    assert "symbolic link" in run["error"] and run["epoch"] == []


@pytest.mark.parametrize("name", ["../real", "real/../real", "/etc", "real/metrics.csv", ".",
                                  "..", "not-a-run", "nope", "real\x00", "REAL"])
def test_a_run_name_must_be_a_listed_run(client, name) -> None:
    status, doc = client.get(f"/api/curves?run={quote(name)}")
    assert status == 404 and "no run named" in doc["error"]
    status, doc = client.get(f"/api/figure?run={quote(name)}&name=curves.png")
    assert status == 404


@pytest.mark.parametrize("query, status", [
    ("", 400), ("run=", 400), ("&".join(["run=real"] * 2), 200),
    ("&".join(f"run=r{i}" for i in range(MAX_SELECTED + 1)), 400), ("run=" + "x" * 5000, 400),
])
def test_bad_curve_queries(client, query, status) -> None:
    got, doc = client.get("/api/curves?" + query)
    assert got == status, doc
    if status == 200:
        assert [r["name"] for r in doc["runs"]] == ["real"]


def test_a_figure_is_the_files_bytes(client, root) -> None:
    status, headers, body = client.request("GET", "/api/figure?run=real&name=curves.png")
    assert status == 200 and headers["content-type"] == "image/png"
    assert body == (root / "real" / "curves.png").read_bytes()
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("run, name, status, error", [
    ("real", "config.json", 404, "no figure named"),
    ("real", "../real/curves.png", 404, "no figure named"),
    ("real", "weights.npz", 404, "no figure named"),
    ("nan", "curves.png", 404, "missing"),
    ("fake-figures", "curves.png", 403, "not a PNG"),
    ("fake-figures", "confusion_matrix.png", 403, "symbolic link"),
    ("fake-figures", "misclassified.png", 403, "more than the limit"),
    ("link-run", "curves.png", 403, "symbolic link"),
])
def test_figures_refused(client, run, name, status, error) -> None:
    got, doc = client.get(f"/api/figure?run={quote(run)}&name={quote(name)}")
    assert got == status and error in doc["error"], doc


def test_figure_query_needs_one_run_and_one_name(client) -> None:
    assert client.get("/api/figure?run=real")[0] == 400
    assert client.get("/api/figure?run=real&run=real&name=curves.png")[0] == 400


def test_host_check(client) -> None:
    status, _, doc = client.request("GET", "/api/runs", headers={"Host": "evil.example"})
    assert status == 403 and "barenet board --allow-host" in doc["error"]
    assert client.request("GET", "/api/runs", headers={"Host": "localhost:1"})[0] == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_only_get(client, method) -> None:
    status, headers, doc = client.request(method, "/api/runs", body=b"{}")
    assert status == 405 and "GET" in headers["allow"], doc
    assert client.request(method, "/nowhere", body=b"")[0] == 404


def test_new_epochs_appear_when_the_file_changes(trained, tmp_path, board) -> None:
    run = copy_run(trained, tmp_path / "runs" / "live", HEADER + "\n1,0.9,0.5,0.8,0.6,0.1,1\n")
    _, client = board(tmp_path / "runs")
    assert curves(client, "live")["live"]["epoch"] == [1]
    with open(run / "metrics.csv", "a") as fh:    # appended in place, as a plain writer would
        fh.write("2,0.7,0.6,0.6,0.7,0.1,1\n3,0.5")
    assert curves(client, "live")["live"]["epoch"] == [1, 2]
    with open(run / "metrics.csv", "a") as fh:
        fh.write(",0.7,0.5,0.8,0.1,1\n")
    got = curves(client, "live")["live"]
    assert got["epoch"] == [1, 2, 3] and got["series"]["train_loss"] == [0.9, 0.7, 0.5]


def test_a_folder_gone_is_a_503_and_the_board_stays_up(trained, tmp_path, board) -> None:
    copy_run(trained, tmp_path / "runs" / "a")
    _, client = board(tmp_path / "runs")
    assert client.get("/api/runs")[0] == 200
    (tmp_path / "runs").rename(tmp_path / "moved")
    time.sleep(LISTING_SECONDS)
    status, doc = client.get("/api/runs")
    assert status == 503 and "cannot list the runs" in doc["error"] and "\n" not in doc["error"]
    (tmp_path / "moved").rename(tmp_path / "runs")
    time.sleep(LISTING_SECONDS)
    assert curves(client, "a")["a"]["rows"] == 3
