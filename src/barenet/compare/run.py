"""The side-by-side run: the same network, initial weights, batches and optimizer, trained twice.

``run_comparison(config)`` builds a barenet model, its PyTorch twin (``twin.to_torch``), trains
both on one shared batch order and returns per-epoch curves, test accuracy and training seconds
for each (``figures.plot_comparison`` draws them). torch is imported inside the functions; a
missing torch raises ConfigError with the install hint.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from .twin import import_torch, numpy_threads, to_torch

#: Pause (s) before each library's epoch: after its last operation, the other library's idle
#: threads keep spinning for 0.1-0.2 s on the cores the next one needs.
SETTLE_SECONDS = 0.5

#: What ``barenet compare`` trains unless told otherwise. Settings left None (batch size,
#: optimizer, lr, momentum, weight decay) take ``barenet train``'s defaults for the model; the
#: learning rate stays constant (no schedule).
DEFAULTS: dict[str, Any] = {
    "model": "mlp", "dataset": "mnist", "epochs": 3, "seed": 0, "batch_size": None,
    "lr": None, "optimizer": None, "momentum": None, "weight_decay": None, "hidden": None,
    "limit_train": None, "limit_test": None, "data_dir": None,
}


def _optimizers(cfg: dict, bn_params: list, torch_params: Any) -> tuple[Any, Any]:
    """The same optimizer with the same hyper-parameters for both libraries, built the way
    ``barenet train`` builds it (momentum is Adam's beta1)."""
    from ..train.api import make_optimizer

    torch = import_torch()
    name = str(cfg["optimizer"]).lower()
    lr, m, wd = float(cfg["lr"]), float(cfg["momentum"]), float(cfg["weight_decay"])
    ours = make_optimizer(name, bn_params, lr, m, wd)
    if name == "sgd":
        theirs = torch.optim.SGD(torch_params, lr=lr, momentum=m, weight_decay=wd)
    elif name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        theirs = cls(torch_params, lr=lr, betas=(m, 0.999), weight_decay=wd)
    else:
        theirs = torch.optim.RMSprop(torch_params, lr=lr, momentum=m, weight_decay=wd)
    return ours, theirs


def _evaluate_both(model: Any, tmodel: Any, loader: Any, torch: Any) -> tuple[float, float]:
    """Test accuracy of (barenet, pytorch) in eval mode."""
    model.eval()
    tmodel.eval()
    right_b = right_t = total = 0
    with torch.no_grad():
        for x, y in loader:
            right_b += int((model(x).argmax(axis=1) == y).sum())
            right_t += int((tmodel(torch.from_numpy(x)).argmax(dim=1).numpy() == y).sum())
            total += len(y)
    return right_b / max(total, 1), right_t / max(total, 1)


def run_comparison(config: dict | None = None,
                   progress: Callable[[str], None] | None = None) -> dict:
    """Train the same network in barenet and PyTorch on the same batches; return both records.

    Returns {"config", "barenet", "pytorch", "agreement", "notes"}; each library's record has
    "epochs" (list of {epoch, train_loss, train_acc, test_acc, seconds}), "batch_losses",
    "test_accuracy" and "train_seconds".
    """
    from .. import nn
    from ..data.datasets import load_dataset
    from ..data.loader import DataLoader
    from ..data.transforms import Normalize
    from ..models import build_model, model_input
    from ..train.config import resolve_config

    torch = import_torch()
    given = {k: v for k, v in (config or {}).items() if v is not None}
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"compare: unknown setting(s) {', '.join(unknown)}")
    full = resolve_config({**{k: v for k, v in DEFAULTS.items() if v is not None}, **given,
                           "scheduler": "none"})
    cfg = {k: full[k] for k in DEFAULTS}
    spec = full["spec"]
    cfg["model_spec"] = spec
    say = progress or (lambda msg: None)
    threads = numpy_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(int(cfg["seed"]))
    train = load_dataset(cfg["dataset"], "train", data_dir=cfg.get("data_dir"))
    test = load_dataset(cfg["dataset"], "test", data_dir=cfg.get("data_dir"))
    n_train = len(train.labels) if not cfg["limit_train"] else min(int(cfg["limit_train"]),
                                                                   len(train.labels))
    n_test = len(test.labels) if not cfg["limit_test"] else min(int(cfg["limit_test"]),
                                                                len(test.labels))
    norm = Normalize(train.mean, train.std, flatten=model_input(spec) == "flat")
    seed = int(cfg["seed"])  # one generator from it shuffles, another draws the weights
    loader = DataLoader(train.images[:n_train], train.labels[:n_train],
                        batch_size=int(cfg["batch_size"]), shuffle=True, rng=seed, transform=norm)
    test_loader = DataLoader(test.images[:n_test], test.labels[:n_test], batch_size=1000,
                             transform=norm)
    model = build_model(spec, rng=seed)
    tmodel = to_torch(model)
    probe = next(iter(test_loader))[0][:64]
    model.eval()
    tmodel.eval()
    with torch.no_grad():
        start_diff = float(np.abs(model(probe) - tmodel(torch.from_numpy(probe)).numpy()).max())
    criterion = nn.CrossEntropyLoss()
    opt_b, opt_t = _optimizers(cfg, model.parameters(), tmodel.parameters())
    rec = {lib: {"epochs": [], "batch_losses": [], "train_seconds": 0.0}
           for lib in ("barenet", "pytorch")}
    def barenet_step(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        logits = model(x)
        loss = criterion(logits, y)
        opt_b.zero_grad()
        model.backward_params_only(criterion.backward())  # as torch: no dL/dx for data
        opt_b.step()
        return loss, logits

    def torch_step(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        xt, yt = torch.from_numpy(x), torch.from_numpy(np.asarray(y, dtype=np.int64))
        tlogits = tmodel(xt)
        tloss = torch.nn.functional.cross_entropy(tlogits, yt)
        opt_t.zero_grad()
        tloss.backward()
        opt_t.step()
        return tloss, tlogits

    for epoch in range(1, int(cfg["epochs"]) + 1):
        model.train()
        tmodel.train()
        sums = {lib: {"loss": 0.0, "right": 0, "seconds": 0.0} for lib in rec}
        # One library's whole epoch, then the other's on the same batches (the loader's state
        # is rewound), each after a pause: run batch by batch, each library would run while
        # the other's idle threads still spin on the same cores, and neither time would hold.
        epoch_start = loader.state_dict()
        for lib, step in (("barenet", barenet_step), ("pytorch", torch_step)):
            loader.load_state_dict(epoch_start)
            time.sleep(SETTLE_SECONDS)
            seen = 0
            for x, y in loader:
                t0 = time.perf_counter()
                loss, logits = step(x, y)
                sums[lib]["seconds"] += time.perf_counter() - t0
                if lib == "pytorch":  # outside the timing, as barenet's conversions are
                    loss, logits = loss.item(), logits.detach().numpy()
                pred = logits.argmax(axis=1)
                sums[lib]["loss"] += float(loss) * len(y)
                sums[lib]["right"] += int((pred == y).sum())
                rec[lib]["batch_losses"].append(round(float(loss), 7))
                seen += len(y)
        acc_b, acc_t = _evaluate_both(model, tmodel, test_loader, torch)
        for lib, acc in (("barenet", acc_b), ("pytorch", acc_t)):
            s = sums[lib]
            rec[lib]["epochs"].append({
                "epoch": epoch, "train_loss": s["loss"] / max(seen, 1),
                "train_acc": s["right"] / max(seen, 1), "test_acc": acc,
                "seconds": s["seconds"]})
            rec[lib]["train_seconds"] += s["seconds"]
            rec[lib]["test_accuracy"] = acc
        b, t = rec["barenet"]["epochs"][-1], rec["pytorch"]["epochs"][-1]
        say(f"epoch {epoch}: barenet loss {b['train_loss']:.4f} test acc {b['test_acc']:.4f} "
            f"({b['seconds']:.1f}s) | pytorch loss {t['train_loss']:.4f} test acc "
            f"{t['test_acc']:.4f} ({t['seconds']:.1f}s)")
    return _summary(cfg, rec, start_diff, threads, torch.__version__, n_train, n_test, model)


def _summary(cfg: dict, rec: dict, start_diff: float, threads: int, torch_version: str,
             n_train: int, n_test: int, model: Any) -> dict:
    from .. import __version__

    bl, tl = np.array(rec["barenet"]["batch_losses"]), np.array(rec["pytorch"]["batch_losses"])
    ep_b, ep_t = rec["barenet"]["epochs"], rec["pytorch"]["epochs"]
    notes = ["same initial weights (barenet's, copied into PyTorch), same batches in the same "
             "order, same optimizer and hyper-parameters, float32, constant learning rate",
             f"training seconds exclude data loading and evaluation; both use {threads} threads; "
             "each epoch runs in barenet, then in PyTorch, after a pause"]
    layer_names = {type(m).__name__ for m in model.modules()}
    if "Dropout" in layer_names:
        notes.append("the model has Dropout: the two libraries draw different dropout masks, "
                     "so their curves agree only statistically")
    rec["barenet"]["version"] = __version__
    rec["pytorch"]["version"] = torch_version
    rec["pytorch"]["threads"] = rec["barenet"]["threads"] = threads
    config = {k: v for k, v in cfg.items() if k != "data_dir"}
    config.update(train_examples=n_train, test_examples=n_test)
    return {
        "config": config,
        "barenet": rec["barenet"],
        "pytorch": rec["pytorch"],
        "agreement": {
            "initial_output_max_abs_diff": start_diff,
            "first_batch_loss_abs_diff": float(abs(bl[0] - tl[0])) if len(bl) else None,
            "max_epoch_train_loss_abs_diff": max(
                (abs(a["train_loss"] - b["train_loss"]) for a, b in zip(ep_b, ep_t)),
                default=None),
            "max_test_acc_abs_diff": max(
                (abs(a["test_acc"] - b["test_acc"]) for a, b in zip(ep_b, ep_t)), default=None),
            "time_ratio_barenet_over_pytorch": (
                rec["barenet"]["train_seconds"] / rec["pytorch"]["train_seconds"]
                if rec["pytorch"]["train_seconds"] > 0 else None),
        },
        "notes": notes,
    }
