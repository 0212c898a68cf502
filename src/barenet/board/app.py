"""What ``barenet board DIR`` answers, without the HTTP plumbing (``server.py`` has that).

Routes::

    GET /                   the page (static files come from the package, static/)
    GET /static/<file>      its scripts and style sheet
    GET /api/runs           {"dir", "runs": [one row per run, as `barenet runs --json` gives it,
                            plus "figures": the figure files present, "serve": the command
                            that serves it, "symlink"], "others": folders without a run,
                            "refresh_seconds", "max_selected"}
    GET /api/curves?run=A&run=B
                            {"runs": [{"name", "status", "epochs", "epochs_completed",
                            "test_accuracy", "error", and the curves of its metrics.csv:
                            "epoch", "series", "diagnostics", "clip", ... (see
                            ``curves``)}]}
    GET /api/figure?run=A&name=curves.png
                            one of the run's figures (``FIGURES``), a PNG

A run name in a request must be one of the runs listed (the listing is read again at most
once a second); it is never used as a path: files are opened one component at a time below
DIR, no symlink followed (``runfiles``). metrics.csv is read again only when its size, time or
inode changed (the last ``CACHE_RUNS`` runs' curves are kept). A problem with one run's files
is that run's "error", in one line; a problem with the request is an ``HTTPError`` (4xx, and
503 when DIR cannot be listed).
"""
from __future__ import annotations

import math
import shlex
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

from ..errors import BarenetError, CheckpointError, brief
from ..plots import RUN_PLOTS
from ..plots_gradient_flow import GRADIENT_FLOW
from ..serve.app import STATIC_DIR as SERVE_STATIC
from ..serve.app import STATIC_TYPES
from ..serve.errors import HTTPError
from ..train.listing import list_runs
from ..train.run import METRICS
from .curves import MAX_CSV_BYTES, parse_metrics
from .runfiles import Missing, is_plain_file, open_run_file, read_capped

STATIC_DIR = Path(__file__).parent / "static"
#: The figures a run may have (``plots.plot_run`` draws them); only these are ever served.
FIGURES = (*RUN_PLOTS.values(), GRADIENT_FLOW)
PNG = b"\x89PNG\r\n\x1a\n"
MAX_FIGURE_BYTES = 16 << 20   # of one figure file
MAX_SELECTED = 12             # runs in one /api/curves request
MAX_NAME = 1024               # characters of a query value
LISTING_SECONDS = 1.0         # a listing is reused this long
CACHE_RUNS = 32               # runs whose parsed curves are kept


class BoardApp:
    """The board's state: the folder ``root``, the last listing, the curves read. ``timeout``
    (seconds a request may take to arrive) and ``log`` serve the HTTP handler; ``refresh``:
    seconds between the page's polls."""

    max_body = 0   # no route takes a body

    def __init__(self, root: str | Path, timeout: float = 15.0,
                 log: Callable[[str], None] | None = None, refresh: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root = Path(root)
        self.timeout, self.log, self.refresh = float(timeout), log, float(refresh)
        self.static = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES}
        self.static.setdefault("favicon.png", SERVE_STATIC / "favicon.png")
        self._clock = clock
        self._listing: dict[str, Any] | None = None
        self._listed_at = -math.inf
        self._list_lock = threading.Lock()
        self._curves: OrderedDict[str, tuple[tuple, dict]] = OrderedDict()
        self._curves_lock = threading.Lock()

    # -- the listing ------------------------------------------------------------------------
    def runs(self) -> dict[str, Any]:
        """``GET /api/runs`` (read again when older than ``LISTING_SECONDS``)."""
        with self._list_lock:
            now = self._clock()
            if self._listing is None or now - self._listed_at >= LISTING_SECONDS:
                self._listing = self._list()
                self._listed_at = now
            return self._listing

    def _list(self) -> dict[str, Any]:
        try:
            rows, others = list_runs(self.root)
        except BarenetError as exc:
            raise HTTPError(503, f"cannot list the runs: {brief(exc)}") from None
        runs = []
        for row in rows:
            name = row["name"]
            link = (self.root / name).is_symlink()
            figures = [] if link else [f for f in FIGURES if is_plain_file(self.root, name, f)]
            runs.append({**{k: v for k, v in row.items() if k != "path"}, "symlink": link,
                         "figures": figures,
                         "serve": f"barenet serve {shlex.quote(str(self.root / name))}"})
        return {"dir": str(self.root), "runs": runs, "others": len(others),
                "refresh_seconds": self.refresh, "max_selected": MAX_SELECTED}

    def _listed(self, name: str) -> dict[str, Any]:
        """The listing's row of the run ``name``; 404 if no listed run has that name."""
        for row in self.runs()["runs"]:
            if row["name"] == name:
                return row
        raise HTTPError(404, f"no run named {name[:80]!r} in {str(self.root)[:200]}: see "
                             "/api/runs")

    # -- curves -----------------------------------------------------------------------------
    def curves(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /api/curves?run=A&run=B``: each run's curves, in the order asked."""
        names = list(dict.fromkeys(query.get("run", [])))
        if not names:
            raise HTTPError(400, "'run' is required: one or more run names from /api/runs")
        if len(names) > MAX_SELECTED:
            raise HTTPError(400, f"{len(names)} runs asked for, at most {MAX_SELECTED} at once")
        for name in names:
            _check_length(name, "run")
        rows = [self._listed(name) for name in names]
        return {"runs": [self._run_curves(row) for row in rows]}

    def _run_curves(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {k: row[k] for k in ("name", "status", "epochs", "epochs_completed",
                                   "test_accuracy")}
        out["error"] = None
        out.update(parse_metrics(b""))   # no curves, until read
        try:
            out.update(self._read_curves(row["name"]))
        except Missing:   # a saved model, or a run before its first epoch
            pass
        except CheckpointError as exc:
            out["error"] = brief(exc, 300)
        return out

    def _read_curves(self, name: str) -> dict[str, Any]:
        """The parsed metrics.csv of ``name``, from the cache while the file is unchanged."""
        fh, info = open_run_file(self.root, name, METRICS)
        with fh:
            key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            with self._curves_lock:
                hit = self._curves.get(name)
                if hit is not None and hit[0] == key:
                    self._curves.move_to_end(name)
                    return hit[1]
            label = f"{name}/{METRICS}"
            parsed = parse_metrics(read_capped(fh, info, MAX_CSV_BYTES, label), label)
        with self._curves_lock:
            self._curves[name] = (key, parsed)
            self._curves.move_to_end(name)
            while len(self._curves) > CACHE_RUNS:
                self._curves.popitem(last=False)
        return parsed

    # -- figures ----------------------------------------------------------------------------
    def figure(self, query: dict[str, list[str]]) -> bytes:
        """``GET /api/figure?run=A&name=F``: the PNG bytes of one of ``FIGURES``."""
        run, name = _one(query, "run"), _one(query, "name")
        if name not in FIGURES:
            raise HTTPError(404, f"no figure named {name[:80]!r}: expected one of "
                                 f"{', '.join(FIGURES)}")
        self._listed(run)
        try:
            fh, info = open_run_file(self.root, run, name)
            with fh:
                data = read_capped(fh, info, MAX_FIGURE_BYTES, f"{run}/{name}")
        except Missing as exc:
            raise HTTPError(404, brief(exc, 300)) from None
        except CheckpointError as exc:
            raise HTTPError(403, brief(exc, 300)) from None
        if not data.startswith(PNG):
            raise HTTPError(403, f"{brief(run, 80)}/{name}: not a PNG picture")
        return data


def _check_length(value: str, key: str) -> None:
    if len(value) > MAX_NAME:
        raise HTTPError(400, f"'{key}' is {len(value):,} characters long, at most {MAX_NAME}")


def _one(query: dict[str, list[str]], key: str) -> str:
    """The single value of ``key`` in a query; 400 when it is absent, repeated or too long."""
    values = query.get(key, [])
    if len(values) != 1:
        raise HTTPError(400, f"'{key}' must be given once, got it {len(values)} times")
    _check_length(values[0], key)
    return values[0]


__all__ = ["BoardApp", "FIGURES", "MAX_FIGURE_BYTES", "MAX_SELECTED"]
