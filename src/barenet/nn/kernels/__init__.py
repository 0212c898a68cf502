"""Fast kernels: the same maths as the layers' textbook code, arranged for speed.

Each layer's ``forward``/``backward`` is written as its docs page states it, in plain NumPy
(``nn/linear.py``, ``nn/conv.py``, ``nn/pooling.py``, ...). Where a faster arrangement pays, the
layer calls a kernel from this package instead:

- ``batch_last.py``: im2col/col2im and window slices on a (C, H, W, N) layout;
- ``conv2d.py``: convolution on that layout, the bias folded into the product, reused buffers;
- ``winograd.py``: Winograd's F(2x2, 3x3) for 3x3 stride-1 convolutions where it pays
  (``conv2d.py`` picks it per shape, ``winograd.chosen``; ``conv_algorithm`` forces either);
- ``workspace.py``: the work arrays a layer reuses from step to step;
- ``pool2d.py``: max and average pooling on that layout, and the 2x2 max pool in cache blocks;
- ``recurrent.py`` (with ``recurrent_lstm.py``, ``recurrent_gru.py``): RNN, LSTM and GRU on a
  (T, rows, N) layout, one product per step, each step in place.

The rule that keeps both honest: every kernel is tested equal to the textbook code over random
shapes, odd sizes, strides, padding, float32/float64 and non-contiguous inputs, and a planted
bug in a kernel is shown to fail those tests (``tests/nn/test_kernels.py``,
``tests/nn/test_winograd.py``).

Kernels are on by default. ``with kernels.textbook():`` runs every layer's plain code instead,
to read along in a debugger or to check a result. ``with kernels.conv_algorithm("winograd"):``
(or ``"im2col"``) makes Conv2d's fast path use that algorithm wherever it applies, instead of
the per-shape choice (``"auto"``), for tests and benchmarks.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

_enabled = True
_conv = "auto"
CONV_ALGORITHMS = ("auto", "im2col", "winograd")


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


def conv_choice() -> str:
    """The convolution algorithm Conv2d's fast path uses: "auto" (per shape), "im2col" or
    "winograd" (wherever it applies: 3x3 kernels at stride 1; im2col elsewhere)."""
    return _conv


def set_conv_choice(name: str) -> None:
    """Set ``conv_choice()`` to one of ``CONV_ALGORITHMS``."""
    global _conv
    if name not in CONV_ALGORITHMS:
        raise ValueError(f"conv algorithm: expected one of {', '.join(CONV_ALGORITHMS)}, "
                         f"got {name!r}")
    _conv = name


@contextmanager
def conv_algorithm(name: str) -> Iterator[None]:
    """Use convolution algorithm ``name`` inside the block; restores the choice after."""
    before = _conv
    set_conv_choice(name)
    try:
        yield
    finally:
        set_conv_choice(before)


__all__ = ["CONV_ALGORITHMS", "conv_algorithm", "conv_choice", "enabled", "set_conv_choice",
           "set_enabled", "textbook"]
