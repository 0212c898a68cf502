"""What every figure is drawn with: a pyplot-free matplotlib Figure, an atomic PNG write, and
two axis fixes (whole-number ticks, plain tick labels). Matplotlib is imported inside the
functions, so ``import barenet`` needs only NumPy."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .atomic import atomic_write


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure (inches) not tied to pyplot, laid out with constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (``atomic_write``); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png"))


def whole_number_ticks(axis: Any) -> None:
    """Ticks of ``axis`` (``ax.xaxis``) at whole numbers only (epochs, trials), even for one."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def plain_numbers(ax: Any, rel_span: float = 0.01) -> None:
    """Plain y tick labels, never an offset such as ``1e-8+2.164479e-1``: values that nearly
    agree get a y range of at least ``rel_span`` of their size, so they read as equal."""
    from matplotlib.ticker import ScalarFormatter

    ax.yaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    low, high = ax.get_ylim()
    span = rel_span * max(abs(low), abs(high))
    if 0 < high - low < span:
        mid = (low + high) / 2
        ax.set_ylim(mid - span / 2, mid + span / 2)


__all__ = ["new_figure", "plain_numbers", "save_figure", "whole_number_ticks"]
