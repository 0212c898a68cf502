"""barenet beside PyTorch: a model rebuilt in ``torch.nn`` and the same training run in both.

- ``twin``: ``to_torch(model)``, the layer-by-layer mapping with the same weights (used by
  ``barenet compare``, the parity tests and the benchmarks), ``import_torch`` (the install hint)
  and ``numpy_threads``;
- ``run``: ``run_comparison(config)``, both libraries trained on the same batches;
- ``figures``: ``plot_comparison(result, path)``, comparison.png.

torch and matplotlib are imported where used, so importing this package needs only NumPy.
"""
from .figures import plot_comparison
from .run import DEFAULTS, SETTLE_SECONDS, run_comparison
from .twin import TORCH_HINT, import_torch, numpy_threads, to_torch

__all__ = ["DEFAULTS", "SETTLE_SECONDS", "TORCH_HINT", "import_torch", "numpy_threads",
           "plot_comparison", "run_comparison", "to_torch"]
