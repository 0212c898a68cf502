"""A run's ``metrics.csv`` read as hostile text into curves the page can draw.

``parse_metrics(data)`` takes the file's bytes (the caller has already capped their size at
``MAX_CSV_BYTES``) and returns columns, one value per epoch::

    {"epoch": [1, 2, 3],                              # E ints, increasing
     "series": {"train_loss": [E values], ...},       # METRIC_COLUMNS found, besides epoch
     "diagnostics": {"grad_norm": {"0.weight": [E values], ...},
                     "update_ratio": {...}, "dead_relu": {"1": [...]}},
     "clip": {"max_norm": [E values], "total_norm": [...],      # {} unless the run clipped
              "fraction_clipped": [...]},                       # (--clip-grad-norm)
     "rows": E, "skipped": rows left out, "truncated": bool, "partial_line": bool,
     "ignored_columns": count}

What is refused (a ``CheckpointError``, one line): bytes that are not UTF-8 text or hold NUL
bytes, a header without an ``epoch`` column or with more than ``MAX_COLUMNS`` columns, a field
the csv module will not read. What is tolerated: a last line without its newline (a file being
written by something that is not atomic) is left out until it is complete; a row with more
fields than the header, a blank line, or a row whose epoch is not a whole number above the
previous row's is skipped (``skipped``; reading stops after ``MAX_SKIPPED``); a missing field, a value that is not a number, NaN and infinity become null, and a
column without a single number is left out; so is a fraction clipped outside [0, 1]. Only
``METRIC_COLUMNS`` and the diagnostics that ``gradient_flow.png`` draws (``gradient_flow_series``:
each layer's weight, each ReLU; and the three ``CLIP_COLUMNS`` of gradient clipping; see
``train.diagnostics``) are read and sent back; the other columns are counted in
``ignored_columns``, never echoed. Rows after the first ``MAX_ROWS``, or after
``MAX_CELLS`` values, are dropped (``truncated``), so a hostile file costs a bounded time
(about a second for the worst 8 MiB, measured on a loaded two-core machine).
"""
from __future__ import annotations

import csv
import io
import math
from typing import Any

from ..errors import CheckpointError
from ..plots_gradient_flow import PANELS, gradient_flow_series
from ..train.diagnostics import CLIP_COLUMNS, is_column
from ..train.resume import METRIC_COLUMNS

MAX_CSV_BYTES = 8 << 20    # of one metrics.csv
MAX_ROWS = 20_000          # epochs read from one file
MAX_COLUMNS = 2_000        # columns of its header
MAX_CELLS = 1_000_000      # values read from one file (rows beyond are dropped: ``truncated``)
MAX_SKIPPED = 1_000        # lines that are not a row to keep, before reading stops
#: The diagnostics drawn, as in ``gradient_flow.png``: grad_norm, update_ratio, dead_relu.
KINDS = tuple(kind for kind, _ in PANELS)


def _number(text: str) -> float | None:
    """A CSV field as a finite float, or None (empty, not a number, NaN, infinity)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _epoch(text: str, previous: int) -> int | None:
    """The row's epoch: a whole number above ``previous``, else None (the row is skipped)."""
    value = _number(text)
    if value is None or not value.is_integer() or value <= previous or value > 10**9:
        return None
    return int(value)


def _text(data: bytes, label: str) -> tuple[str, bool]:
    """(the complete lines of ``data`` as text, whether an unfinished last line was cut)."""
    if b"\0" in data:
        raise CheckpointError(f"{label}: binary data (NUL bytes), expected CSV text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{label}: not UTF-8 text, expected CSV") from None
    end = text.rfind("\n") + 1
    return text[:end], end < len(text)


def _drawn(names: list[str]) -> set[str]:
    """The diagnostics columns among ``names`` that the gradient-flow figure draws (which ones,
    ``gradient_flow_series`` says from the names alone: each layer's weight, each ReLU)."""
    lines = gradient_flow_series([dict.fromkeys(names)])
    return {f"{kind}/{name}" for kind, drawn in lines.items() if kind in KINDS
            for name, _, _ in drawn}


def _columns(header: list[str], label: str) -> dict[str, int]:
    """{column sent back: its index in the header}: the trainer's columns and the drawn
    diagnostics; the first of duplicate names wins."""
    if len(header) > MAX_COLUMNS:
        raise CheckpointError(f"{label}: {len(header):,} columns, more than the limit of "
                              f"{MAX_COLUMNS:,}")
    known: dict[str, int] = {}
    for i, name in enumerate(header):
        name = name.strip()
        if (name in METRIC_COLUMNS or is_column(name)) and name not in known:
            known[name] = i
    if "epoch" not in known:
        raise CheckpointError(f"{label}: no 'epoch' column in its header, expected "
                              f"{','.join(METRIC_COLUMNS)}")
    drawn = _drawn([n for n in known if n not in METRIC_COLUMNS])
    return {n: i for n, i in known.items()
            if n in METRIC_COLUMNS or n in drawn or n in CLIP_COLUMNS}


def _rows(reader: Any, header: list[str], at: int, cap: int, out: dict[str, Any]) -> list[list]:
    """The rows to keep (at most ``cap``): as wide as the header at most, with an epoch (in
    column ``at``) above the previous row's; counts the others (blank lines too) in ``out``,
    and stops after ``MAX_SKIPPED`` of them."""
    rows, previous = [], 0
    for row in reader:
        if len(rows) >= cap or out["skipped"] >= MAX_SKIPPED:
            out["truncated"] = True
            break
        epoch = _epoch(row[at], previous) if 0 < len(row) <= len(header) and at < len(row) \
            else None
        if epoch is None:
            out["skipped"] += 1
            continue
        previous = row[at] = epoch
        rows.append(row)
    return rows


def parse_metrics(data: bytes, label: str = "metrics.csv") -> dict[str, Any]:
    """The curves of one metrics.csv (see the module's doc); ``label`` names it in errors."""
    text, partial = _text(data, label)
    out: dict[str, Any] = {"epoch": [], "series": {}, "diagnostics": {k: {} for k in KINDS},
                           "clip": {}, "rows": 0, "skipped": 0, "truncated": False, "partial_line": partial,
                           "ignored_columns": 0}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:   # nothing complete yet: a file being written
            return out
        keep = _columns(header, label)
        cap = min(MAX_ROWS, max(1, MAX_CELLS // len(keep)))
        rows = _rows(reader, header, keep["epoch"], cap, out)
    except csv.Error as exc:
        raise CheckpointError(f"{label}: not readable as CSV (line {reader.line_num}: "
                              f"{str(exc)[:80]})") from None
    out["ignored_columns"] = len(header) - len(keep)
    out["epoch"] = [row[keep["epoch"]] for row in rows]
    out["rows"] = len(rows)
    for name, i in keep.items():
        if name == "epoch":
            continue
        values = [_number(row[i]) if i < len(row) else None for row in rows]
        if name == "clip/fraction_clipped":
            values = [v if v is None or 0 <= v <= 1 else None for v in values]
        if not any(v is not None for v in values):
            continue   # a column without a single number is left out
        kind, _, rest = name.partition("/")
        if name in METRIC_COLUMNS:
            out["series"][name] = values
        elif kind == "clip":
            out["clip"][rest] = values
        else:
            out["diagnostics"][kind][rest] = values
    return out


__all__ = ["MAX_CELLS", "MAX_COLUMNS", "MAX_CSV_BYTES", "MAX_ROWS", "MAX_SKIPPED", "parse_metrics"]
