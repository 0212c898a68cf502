"""Parameter: a trainable array, its gradient, and the lazy zeroing of that gradient."""
from __future__ import annotations

import numpy as np


class Parameter:
    """A trainable array and its gradient: ``data`` and ``grad`` have the same shape and dtype.

    ``zero_grad()`` is lazy: it only marks the gradient as due to be zeroed, and the first read
    of ``grad`` fills it with zeros. A layer whose backward produces a whole gradient in one
    product asks ``grad_for_overwrite()`` first: when the gradient is due to be zeroed, it
    writes the product straight into it (``out=``) instead of zeroing and then adding, one
    pass over the array instead of three.
    """

    __slots__ = ("_grad", "_zero_pending", "data")

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.asarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def grad(self) -> np.ndarray | None:
        if self._zero_pending:
            self._zero_pending = False
            if self._grad is not None:  # None: no gradient (skipped by optimizers)
                self._grad.fill(0)
        return self._grad

    @grad.setter
    def grad(self, value: np.ndarray | None) -> None:
        self._grad = value
        self._zero_pending = False

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        """Mark the gradient as zero (filled on its next read, or overwritten by a layer)."""
        self._zero_pending = True

    def grad_for_overwrite(self) -> np.ndarray | None:
        """The gradient array if it is due to be zeroed, else None.

        A caller that gets the array must write every entry of it (it holds stale values);
        with None, it must add to ``grad`` as usual.
        """
        if not self._zero_pending or self._grad is None:
            return None
        self._zero_pending = False
        return self._grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
