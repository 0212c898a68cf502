"""``barenet tune --lr-find``: the learning-rate range test from the command line (the flags
are ``cli/tune.py``'s; the test is ``tune/lr_find.py``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..train.claim import claim_dir
from ..train.outputs import check_output

#: What ``barenet tune --lr-find`` writes into DIR.
LR_FIND_FILES = ("lr_find.json", "lr_find.png")
#: Flags of ``barenet train`` that the range test passes on, in the order printed.
TRAIN_FLAGS = ("model", "dataset", "hidden", "optimizer", "batch_size", "momentum",
               "weight_decay", "seed", "val_split", "limit_train", "data_dir")


def given_flags(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The flags among ``names`` (argument names) that were given, as ``--flag-name``."""
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) is not None]


def run_lr_find(args: argparse.Namespace, base: dict) -> int:
    """``barenet tune --lr-find``: the range test for the training config ``base`` (the
    flags' settings); write its files, print the outcome and the training line."""
    from ..atomic import atomic_write_json
    from ..train.config import resolve_config
    from ..train.memory import check_memory
    from ..tune import lr_find_config, refuse_links
    from ..tune.lr_find import DEFAULT_RULE, END_LR, NUM_BATCHES, START_LR, check_range

    other = given_flags(args, ("param", "values", "trials", "jobs", "storage", "study", "epochs",
                          "lr"))
    if other:
        raise ConfigError(f"{other[0]} does not apply to --lr-find (one short run whose "
                          "learning rate grows from --start-lr to --end-lr)")
    opts = {k: getattr(args, k) for k in ("start_lr", "end_lr", "num_batches", "rule")
            if getattr(args, k) is not None}
    check_range(**{"start_lr": START_LR, "end_lr": END_LR, "num_batches": NUM_BATCHES,
                   "rule": DEFAULT_RULE, **opts})
    check_memory(resolve_config(base))   # every bad setting fails here, before DIR is made
    out = Path(args.out)
    if not args.overwrite:
        refuse_links(out, LR_FIND_FILES)
    with claim_dir(out):   # one command writes into DIR at a time
        check_output(out, LR_FIND_FILES, args.overwrite, "a range test", claimed=True)
        if not args.overwrite:
            refuse_links(out, LR_FIND_FILES)
        result, cfg = lr_find_config(base, **opts)
        written = [atomic_write_json(out / "lr_find.json", result.to_dict())]
        try:
            from ..tune import plot_lr_find

            written.append(plot_lr_find(result, out / "lr_find.png"))
        except ImportError:
            print('no plot: matplotlib is not installed (pip install "barenet[cli]")')
    settings = result.settings
    if len(result.lrs):
        print(f"range test: {len(result.lrs)} batches of {settings['batch_size']}, lr "
              f"{settings['start_lr']:g} to {result.lrs[-1]:.3g}; stopped: {result.stop}")
        print(f"lowest smoothed loss {result.smoothed.min():.4f} at lr "
              f"{result.min_loss_lr:.3g}")
    else:
        print(f"range test: no batch recorded; stopped: {result.stop}")
    for rule, lr in result.candidates.items():
        mark = "suggestion" if rule == result.rule else "other rule"
        print(f"{mark} ({rule}): " + ("none" if lr is None else f"lr {lr:.3g}"))
    code = 0
    if result.suggestion is None:
        print("no suggestion: the smoothed loss never fell (try a lower --start-lr or more "
              "--num-batches)")
        code = 1
    else:
        print("train with it: " + train_command(cfg, args, result.suggestion))
    for path in written:
        print(f"wrote {path}")
    return code


def train_command(cfg: dict, args: argparse.Namespace, lr: float) -> str:
    """The ``barenet train`` line with the range test's model, data and optimizer settings
    (those resolved by default included, so the line is explicit) and ``--lr lr``."""
    import shlex

    parts = ["barenet", "train"]
    for key in TRAIN_FLAGS:
        value = cfg.get(key) if key in ("model", "dataset", "optimizer", "batch_size") \
            else getattr(args, key, None)
        if key == "seed" and value == 0:
            continue
        if key == "val_split" and value == 0.1:
            continue
        if value is None:
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        parts += ["--" + key.replace("_", "-"), str(value)]
    parts += ["--lr", f"{lr:.3g}"]
    return " ".join(shlex.quote(p) for p in parts)
