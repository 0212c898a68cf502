"""barenet: neural networks from scratch in NumPy, with a PyTorch-shaped API."""
from . import nn, optim
from .gradcheck import check_loss, check_module, rel_error

__version__ = "0.1.0"
__all__ = ["nn", "optim", "check_module", "check_loss", "rel_error", "__version__"]
