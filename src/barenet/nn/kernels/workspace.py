"""Work arrays a layer reuses from step to step: a fresh multi-MB array each step costs page
faults that take about as long as filling it (``conv2d.py`` and ``winograd.py`` use these)."""
from __future__ import annotations

import numpy as np


class Workspace:
    """Named work arrays that a layer reuses while training. They only ever hold data
    internal to one forward/backward pair; outputs are always new arrays."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, bool]:
        """An array of ``shape`` and ``dtype`` and whether it is new (its contents unset)."""
        buf = self._arrays.get(name)
        if buf is not None and buf.shape == shape and buf.dtype == dtype:
            return buf, False
        buf = self._arrays[name] = np.empty(shape, dtype=dtype)
        return buf, True

    def clear(self) -> None:
        self._arrays.clear()

    def __len__(self) -> int:
        return len(self._arrays)


def buffer(ws: Workspace | None, name: str, shape: tuple[int, ...],
           dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """``ws.get(name, shape, dtype)``, or a new array (and True) when there is no workspace."""
    return (np.empty(shape, dtype=dtype), True) if ws is None else ws.get(name, shape, dtype)
