"""MNIST-style preprocessing of a user's picture: read it safely, then make it look like MNIST.

``load_image``/``from_bytes`` turn a PNG/JPEG/BMP/GIF (any size, RGB, RGBA, grayscale or palette)
into a float32 (H, W) gray array in [0, 1]; ``to_mnist`` turns that into a uint8 (28, 28) digit the
way the original MNIST was prepared: light ink on black, the ink's bounding box scaled to fit a
20x20 box keeping its aspect ratio, placed so its centre of mass sits at pixel (14, 14).
Pillow is imported inside the functions, so importing this package needs only NumPy.
``reading.py`` decodes (safely: size checked first, formats listed, reduced while read) and
``mnist_style.py`` does the MNIST-style part.

The digit ends up 20 pixels tall, so a bigger picture is first reduced (averaging blocks of
pixels, in Pillow, while it is read) to at most ``WORK_SIDE`` pixels on its longer side before
any per-pixel work: `barenet predict` on a 60 KB PNG of 7000x7000 pixels with two thin lines
went from 21 s and 1.25 GB to 2 s and 100 MB (most of it Python and NumPy starting up).
"""
from __future__ import annotations

from .mnist_style import shrink, to_mnist, to_style
from .reading import DEFAULT_MAX_PIXELS, FORMATS, WORK_SIDE, from_bytes, load_image

__all__ = ["DEFAULT_MAX_PIXELS", "FORMATS", "WORK_SIDE", "from_bytes", "load_image", "shrink",
           "to_mnist", "to_style"]
