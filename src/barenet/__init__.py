"""barenet: neural networks from scratch in NumPy, with a PyTorch-shaped API.

``save_run(run_dir, model, dataset="mnist")`` saves any Sequential of built-in layers as a run
directory (its architecture as JSON, its weights, the dataset's normalisation); ``load_run``
loads one back. Both are imported on first use: ``import barenet`` stays light.
"""
from typing import Any

from . import nn, optim
from .gradcheck import check_loss, check_module, rel_error

__version__ = "0.1.0"
__all__ = ["nn", "optim", "save_run", "load_run", "check_module", "check_loss", "rel_error",
           "__version__"]


def __getattr__(name: str) -> Any:
    """``save_run`` and ``load_run`` from ``barenet.train.checkpoint``, on first use."""
    if name in ("save_run", "load_run"):
        from .train import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module 'barenet' has no attribute {name!r}")
