"""Hyper-parameter tuning: a grid sweep of one parameter, or an Optuna search over several.

- ``trial``: the grids and search space, ``train_trial`` (one brief training run, scored by its
  validation accuracy, never the test set), ``best_config`` (the best trial's config) and
  ``recommended_config`` (that config without the search's short budget: best.json, which
  ``barenet train --config`` accepts);
- ``grid``: ``sweep``, by default the learning rate from 1e-4 to 1, in one or more processes;
- ``study``: ``search``, an Optuna study in shared storage, trials in worker processes;
  ``refuse_links`` (no file in an output directory is opened through a symbolic link);
- ``storage``: ``open_storage`` and ``join_study`` (sqlite or PostgreSQL, safe when several
  processes or machines start together), ``check_storage`` (an in-memory database is
  refused), ``storage_url`` and ``redact`` (no password shown, in any form libpq accepts);
- ``figures``: ``plot_results``, the figures of either kind of results;
- ``lr_find``: ``lr_find``, the learning-rate range test (the loss while the rate grows
  exponentially, batch by batch; a suggested rate; the model and optimizer restored after);
  ``lr_find_run``: ``lr_find_config``, the test for a ``barenet train`` config;
  ``lr_find_figure``: ``plot_lr_find``.

Optuna and matplotlib are imported where used.
"""
from .figures import plot_results
from .grid import sweep
from .lr_find import LRFindResult, lr_find
from .lr_find_figure import plot_lr_find
from .lr_find_run import lr_find_config
from .storage import (OPTUNA_HINT, check_storage, import_optuna, join_study, open_storage, redact,
                      storage_url)
from .study import STUDY_FILES, refuse_links, search
from .trial import (DEFAULT_SEARCH, SEARCH_SPACE, SWEEP_GRIDS, best_config, check_params,
                    recommended_config)

__all__ = ["DEFAULT_SEARCH", "LRFindResult", "OPTUNA_HINT", "SEARCH_SPACE", "STUDY_FILES",
           "SWEEP_GRIDS", "best_config", "check_params", "check_storage", "import_optuna",
           "join_study", "lr_find", "lr_find_config", "open_storage", "plot_lr_find",
           "plot_results", "recommended_config", "redact", "refuse_links", "search",
           "storage_url", "sweep"]
