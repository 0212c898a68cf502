"""The board's readers without HTTP: ``parse_metrics`` on hostile text (and on random bytes,
property-based), ``open_run_file`` on symlinks, FIFOs and names that try to be paths, and the
app's listing and curve caches."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from board_helpers import HEADER, copy_run
from hypothesis import given, settings
from hypothesis import strategies as st

from barenet.board.app import LISTING_SECONDS, BoardApp
from barenet.board.curves import MAX_CELLS, MAX_COLUMNS, MAX_ROWS, MAX_SKIPPED, parse_metrics
from barenet.board.runfiles import Missing, open_run_file, read_capped
from barenet.errors import CheckpointError
from barenet.serve.errors import HTTPError
from barenet.train.resume import metrics_csv

ROW = "{e},0.5,0.8,0.6,0.7,0.1,1.5\n"


def test_what_the_trainer_writes_reads_back() -> None:
    history = [{"epoch": 1, "train_loss": 0.9, "train_acc": 0.7, "val_loss": 0.8, "val_acc": 0.75,
                "lr": 0.1, "seconds": 2.0, "grad_norm/0.weight": 1.5, "grad_norm/0.bias": 0.1,
                "update_ratio/0.weight": 2e-3, "update_ratio/0.bias": 1e-3, "dead_relu/1": 0.25},
               {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "val_loss": None, "val_acc": 0.8,
                "lr": 0.05, "seconds": 2.0, "grad_norm/0.weight": 1.0, "grad_norm/0.bias": 0.1,
                "update_ratio/0.weight": None, "update_ratio/0.bias": 1e-3, "dead_relu/1": 0.5}]
    got = parse_metrics(metrics_csv(history))
    assert got["epoch"] == [1, 2] and got["rows"] == 2 and got["skipped"] == 0
    assert got["series"]["train_loss"] == [0.9, 0.5] and got["series"]["val_loss"] == [0.8, None]
    assert got["diagnostics"] == {"grad_norm": {"0.weight": [1.5, 1.0]},
                                  "update_ratio": {"0.weight": [2e-3, None]},
                                  "dead_relu": {"1": [0.25, 0.5]}}
    assert not got["truncated"] and not got["partial_line"]
    assert got["ignored_columns"] == 2      # the biases' columns: the figure draws weights


def test_clipping_columns_read_back() -> None:
    history = [{"epoch": 1, "train_loss": 0.9, "grad_norm/0.weight": 1.0, "clip/max_norm": 1.0,
                "clip/total_norm": 2.5, "clip/fraction_clipped": 0.75},
               {"epoch": 2, "train_loss": 0.5, "grad_norm/0.weight": 0.8, "clip/max_norm": 0.5,
                "clip/total_norm": None, "clip/fraction_clipped": 1.0}]
    got = parse_metrics(metrics_csv(history))
    assert got["clip"] == {"max_norm": [1.0, 0.5], "total_norm": [2.5, None],
                           "fraction_clipped": [0.75, 1.0]}
    assert got["diagnostics"]["grad_norm"] == {"0.weight": [1.0, 0.8]}
    assert got["ignored_columns"] == 0
    plain = parse_metrics(metrics_csv([{k: v for k, v in h.items() if not k.startswith("clip/")}
                                       for h in history]))
    assert plain["clip"] == {} and plain["epoch"] == [1, 2]


@pytest.mark.parametrize("text, clip, ignored", [
    # a fraction outside [0, 1], NaN and infinity are gaps; a column with no number is left out
    ("epoch,clip/max_norm,clip/total_norm,clip/fraction_clipped\n"
     "1,1,nan,1.5\n2,1,inf,-0.1\n3,2,3,0.5\n",
     {"max_norm": [1.0, 1.0, 2.0], "total_norm": [None, None, 3.0],
      "fraction_clipped": [None, None, 0.5]}, 0),
    ("epoch,clip/max_norm,clip/fraction_clipped\n1,x,2\n", {}, 0),
    # the first of two columns of one name wins; other clip/ names are never read
    ("epoch,clip/max_norm,clip/max_norm,clip/other,clip/../x,clip\n1,1,9,5,5,5\n",
     {"max_norm": [1.0]}, 4),
])
def test_hostile_clipping_columns(text, clip, ignored) -> None:
    got = parse_metrics(text.encode())
    assert got["clip"] == clip and got["ignored_columns"] == ignored


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1", "0", "0.5", "-1", "2", "nan", "inf", "", "x",
                                           "1e400", "-0"]),
                          st.sampled_from(["0.3", "7", "nan", "", "1e-9", "-inf"])),
                max_size=8))
def test_clip_values_are_finite_and_fractions_are_fractions(cells) -> None:
    text = "epoch,clip/fraction_clipped,clip/total_norm\n" + "".join(
        f"{e},{f},{n}\n" for e, (f, n) in enumerate(cells, start=1))
    got = parse_metrics(text.encode())
    for name, values in got["clip"].items():
        assert len(values) == len(got["epoch"]) == len(cells)
        assert any(v is not None for v in values)
        assert all(v is None or abs(v) < float("inf") for v in values)
    assert all(v is None or 0 <= v <= 1 for v in got["clip"].get("fraction_clipped", []))


@pytest.mark.parametrize("data, epochs, partial", [
    (b"", [], False),
    (b"epoch,train_loss", [], True),                       # not even the header is whole
    ((HEADER + "\n" + ROW.format(e=1) + "2,0.4").encode(), [1], True),
    ((HEADER + "\r\n" + ROW.format(e=1).replace("\n", "\r\n")).encode(), [1], False),
    ((HEADER + "\n" + ROW.format(e="1.0") + ROW.format(e="2e0")).encode(), [1, 2], False),
    ((HEADER + "\n" + ROW.format(e=-1) + ROW.format(e=0) + ROW.format(e="1e12")).encode(), [],
     False),
    ((HEADER + "\n" + ROW.format(e=3) + ROW.format(e=2) + ROW.format(e=4)).encode(), [3, 4],
     False),
])
def test_epochs_kept(data, epochs, partial) -> None:
    got = parse_metrics(data)
    assert got["epoch"] == epochs and got["partial_line"] == partial


def test_rows_past_the_cap_are_dropped() -> None:
    text = "epoch,train_loss\n" + "".join(f"{e},0.5\n" for e in range(1, MAX_ROWS + 6))
    got = parse_metrics(text.encode())
    assert got["rows"] == MAX_ROWS and got["truncated"] and got["epoch"][-1] == MAX_ROWS


@pytest.mark.parametrize("junk", ["\n", "x\n", "1,2,3,4,5,6,7,8,9\n"])
def test_reading_stops_after_max_skipped_lines(junk) -> None:
    data = ("epoch,train_loss\n1,0.5\n" + junk * (MAX_SKIPPED + 10) + "9,0.1\n").encode()
    got = parse_metrics(data)
    assert got["epoch"] == [1] and got["skipped"] == MAX_SKIPPED and got["truncated"]


def test_a_wide_file_reads_at_most_max_cells_values() -> None:
    names = ["epoch"] + [f"grad_norm/{i}.weight" for i in range(999)]
    rows = "".join(f"{e}," + ",".join(["1"] * 999) + "\n" for e in range(1, 1101))
    got = parse_metrics((",".join(names) + "\n" + rows).encode())
    assert got["rows"] == MAX_CELLS // 1000 and got["truncated"]
    assert len(got["diagnostics"]["grad_norm"]) == 999


@pytest.mark.parametrize("data, error", [
    (b"epoch,train_loss\n1,\x000.5\n", "binary data"),
    ("epoch,train_loss\n1,0.5 \u00e9\n".encode("latin-1"), "not UTF-8"),
    (b"train_loss,val_loss\n0.5,0.6\n", "no 'epoch' column"),
    (("epoch," + ",".join(f"c{i}" for i in range(MAX_COLUMNS)) + "\n").encode(), "columns"),
    (b'epoch,train_loss\n1,"' + b"x" * 200_000 + b'"\n', "not readable as CSV"),
])
def test_refused(data, error) -> None:
    with pytest.raises(CheckpointError, match=error):
        parse_metrics(data, "run/metrics.csv")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(alphabet="epoch,train_loss0123456789.\n\r\"naif-e",
                                         max_size=300).map(str.encode))
def test_any_bytes_parse_or_raise_the_documented_error(data) -> None:
    try:
        got = parse_metrics(data)
    except CheckpointError as exc:
        assert "\n" not in str(exc)
        return
    epochs = got["epoch"]
    assert epochs == sorted(set(epochs)) and all(isinstance(e, int) and e >= 1 for e in epochs)
    for values in got["series"].values():
        assert len(values) == len(epochs)
        assert all(v is None or (isinstance(v, float) and abs(v) < float("inf")) for v in values)


# -- opening a run's files --------------------------------------------------------------------
@pytest.fixture
def root(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text(HEADER + "\n")
    (tmp_path / "outside.csv").write_text("secret")
    (run / "escape.csv").symlink_to(tmp_path / "outside.csv")
    (tmp_path / "linked").symlink_to(run, target_is_directory=True)
    (run / "dir.csv").mkdir()
    os.mkfifo(run / "fifo.csv")
    return tmp_path


def test_a_plain_file_opens(root) -> None:
    fh, info = open_run_file(root, "run", "metrics.csv")
    with fh:
        assert read_capped(fh, info, 1000, "run/metrics.csv") == (HEADER + "\n").encode()


@pytest.mark.parametrize("run, name, error", [
    ("run", "escape.csv", "symbolic link"), ("linked", "metrics.csv", "symbolic link"),
    ("run", "dir.csv", "directory"), ("run", "fifo.csv", "not a regular file"),
    ("run", "absent.csv", "missing"), ("absent", "metrics.csv", "missing"),
    ("..", "outside.csv", "not a run name"), ("run/..", "outside.csv", "not a run name"),
    ("run", "../outside.csv", "not a file name"), ("", "metrics.csv", "not a run name"),
])
def test_refused_files(root, run, name, error) -> None:
    with pytest.raises(CheckpointError, match=error):
        open_run_file(root, run, name)


def test_missing_is_its_own_kind(root) -> None:
    with pytest.raises(Missing):
        open_run_file(root, "run", "absent.csv")


def test_a_file_over_the_cap_is_refused_even_if_it_grew(root) -> None:
    fh, info = open_run_file(root, "run", "metrics.csv")
    with fh, open(root / "run" / "metrics.csv", "a") as grow:
        grow.write("x" * 100)     # after fstat: only the read sees it
        grow.flush()
        with pytest.raises(CheckpointError, match="more than the limit of 60"):
            read_capped(fh, info, 60, "run/metrics.csv")


# -- the app's caches ------------------------------------------------------------------------
def test_the_listing_is_read_again_after_a_second(trained, tmp_path) -> None:
    now = [0.0]
    app = BoardApp(tmp_path, clock=lambda: now[0])
    copy_run(trained, tmp_path / "a")
    assert [r["name"] for r in app.runs()["runs"]] == ["a"]
    copy_run(trained, tmp_path / "b")
    assert [r["name"] for r in app.runs()["runs"]] == ["a"]        # within the second
    with pytest.raises(HTTPError, match="no run named 'b'"):
        app.curves({"run": ["b"]})
    now[0] += LISTING_SECONDS
    assert [r["name"] for r in app.runs()["runs"]] == ["a", "b"]
    assert app.curves({"run": ["b"]})["runs"][0]["rows"] == 3


def test_curves_are_parsed_again_only_when_the_file_changes(trained, tmp_path, monkeypatch):
    copy_run(trained, tmp_path / "a")
    app = BoardApp(tmp_path)
    calls = []
    import barenet.board.app as board_app

    real = board_app.parse_metrics
    monkeypatch.setattr(board_app, "parse_metrics", lambda *a: calls.append(a[0]) or real(*a))
    first = app.curves({"run": ["a"]})["runs"][0]
    assert app.curves({"run": ["a"]})["runs"][0] == first
    assert len([data for data in calls if data]) == 1    # the file was parsed once
    with open(tmp_path / "a" / "metrics.csv", "a") as fh:
        fh.write("4,0.1,0.9,0.1,0.9,0.01,1\n")
    assert app.curves({"run": ["a"]})["runs"][0]["epoch"] == [1, 2, 3, 4]
    assert len([data for data in calls if data]) == 2
