"""The range test for a ``barenet train`` config: the model, data, split, optimizer and seed
that ``barenet train`` would use, and the record ``barenet tune --lr-find`` writes."""
from __future__ import annotations

from typing import Any

import numpy as np

from .lr_find import LRFindResult, lr_find


def lr_find_config(config: dict[str, Any], **options: Any) -> tuple[LRFindResult, dict]:
    """``lr_find`` on the model ``barenet train`` builds from the flat ``config`` (keys as
    its flags; ``lr`` is ignored), its initial weights, its optimizer with its momentum and
    weight decay, batch size, and its training images (the validation split left out), in
    the order training would draw them first. ``options``: ``lr_find``'s keywords (start_lr,
    end_lr, num_batches, beta, diverge, rule). Returns (result, the resolved config)."""
    from ..data.datasets import load_dataset
    from ..data.transforms import Normalize
    from ..models import build_model, model_input
    from ..train.config import resolve_config
    from ..train.evaluate import run_split
    from ..train.factories import make_optimizer
    from ..train.memory import check_memory

    cfg = resolve_config(config)
    check_memory(cfg)
    train = load_dataset(cfg["dataset"], "train", data_dir=cfg["data_dir"])
    n = len(train.labels) if cfg["limit_train"] is None else min(cfg["limit_train"],
                                                                  len(train.labels))
    init_seq, _, shuffle_seq, _ = np.random.SeedSequence(cfg["seed"]).spawn(4)  # as train's
    train_idx, _ = run_split(n, cfg["seed"], cfg["val_split"])
    model = build_model(cfg["spec"], rng=np.random.default_rng(init_seq))
    opt = make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["momentum"],
                         cfg["weight_decay"])
    normalize = Normalize(train.mean, train.std, flatten=model_input(cfg["spec"]) == "flat")
    result = lr_find(model, train, opt, transform=normalize, batch_size=cfg["batch_size"],
                     seed=np.random.default_rng(shuffle_seq), indices=train_idx, **options)
    result.settings.update(model=cfg["model"], spec=cfg["spec"], dataset=cfg["dataset"],
                           optimizer=cfg["optimizer"], momentum=cfg["momentum"],
                           weight_decay=cfg["weight_decay"], seed=cfg["seed"],
                           val_split=cfg["val_split"], limit_train=cfg["limit_train"],
                           train_samples=int(len(train_idx)))
    return result, cfg


__all__ = ["lr_find_config"]
