"""Fast kernels: the same maths as the layers' textbook code, arranged for speed.

Each layer's ``forward``/``backward`` is written as its docs page states it, in plain NumPy
(``nn/linear.py``, ``nn/conv.py``, ``nn/pooling.py``, ...). Where a faster arrangement pays, the
layer calls a kernel from this package instead:

- ``batch_last.py``: im2col/col2im and window slices on a (C, H, W, N) layout;
- ``conv2d.py``: convolution on that layout, the bias folded into the product, reused buffers;
- ``pool2d.py``: max and average pooling on that layout, and the 2x2 max pool in cache blocks.

The rule that keeps both honest: every kernel is tested equal to the textbook code over random
shapes, odd sizes, strides, padding, float32/float64 and non-contiguous inputs, and a planted
bug in a kernel is shown to fail those tests (``tests/nn/test_kernels.py``).

Kernels are on by default. ``with kernels.textbook():`` runs every layer's plain code instead,
to read along in a debugger or to check a result.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

_enabled = True


def enabled() -> bool:
    """True when layers use the fast kernels (the default)."""
    return _enabled


def set_enabled(flag: bool) -> None:
    """Use the fast kernels (True) or the textbook code (False) in every layer."""
    global _enabled
    _enabled = bool(flag)


@contextmanager
def textbook() -> Iterator[None]:
    """Run the layers' plain textbook code inside the block; restores the setting after."""
    before = _enabled
    set_enabled(False)
    try:
        yield
    finally:
        set_enabled(before)


__all__ = ["enabled", "set_enabled", "textbook"]
