"""Where one training step's time goes: per layer, forward vs backward, barenet and PyTorch.

Run: ``python benchmarks/profile_step.py [--models mlp,cnn] [--steps 50] [--warmup 10]
[--json OUT.json]``. For each model, the same batches (already normalised) go through a
barenet step and a PyTorch step, layer by layer: barenet's forward and backward of each layer
are timed directly; PyTorch's forward likewise, its backward from autograd hooks on each
layer's output (the time between the gradient reaching a layer's output and reaching its
input). Loss, zero_grad, optimizer step and the input pipeline (gather + Normalize of a uint8
batch) get their own rows. Every number is the median over the timed steps, in milliseconds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from typing import Any

import common
import numpy as np
from frameworks import cli_hparams, make_setup, versions

from barenet.models import build_model, model_input


def leaves(model: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """The non-Sequential layers of a (nested) Sequential, in order, with dotted names."""
    out = []
    for name, child in model._modules.items():
        full = f"{prefix}{name}"
        if type(child).__name__ == "Sequential":
            out += leaves(child, full + ".")
        else:
            out.append((full, child))
    return out


def _label(name: str, layer: Any) -> str:
    """A short description such as ``3 Conv2d(32, 64, 3x3)``."""
    kind = type(layer).__name__
    if kind == "Linear":
        args = f"{layer.in_features}, {layer.out_features}"
    elif kind == "Conv2d":
        args = f"{layer.in_channels}, {layer.out_channels}, {'x'.join(map(str, layer.kernel_size))}"
        args += "".join(f", {k}={v[0] if v[0] == v[1] else v}" for k, v in
                        (("stride", layer.stride), ("padding", layer.padding)) if v != (1, 1)
                        and not (k == "padding" and v == (0, 0)))
    elif kind.endswith("Pool2d"):
        args = "x".join(map(str, layer.kernel_size))
    elif kind == "Dropout":
        args = f"p={layer.p}"
    else:
        args = ""
    return f"{name} {kind}({args})"


def profile_barenet(s: Any, batches: list, warmup: int) -> dict[str, list[float]]:
    """Per-component times (s) of each barenet step over ``batches`` (after ``warmup``)."""
    model, crit, opt = s.model, s.criterion, s.opt
    layers = leaves(model)
    # As Sequential.backward_params_only does: the first layer with parameters skips dL/dx
    # and the parameterless layers in front of it get no gradient.
    top = list(model._modules.values())
    first = next((m for m in top if m.parameters()), None)
    params_only = first if any(first is layer for _, layer in layers) else None
    skipped = {id(m) for m in top[:top.index(first)]} if first is not None else set()
    times: dict[str, list[float]] = defaultdict(list)
    model.train()
    for i, (x, y) in enumerate(batches):
        rec: dict[str, float] = {}
        t0 = start = time.perf_counter()
        for name, layer in layers:
            x = layer(x)
            t1 = time.perf_counter()
            rec[f"fwd {name}"], t0 = t1 - t0, t1
        crit(x, y)
        t1 = time.perf_counter()
        rec["fwd loss"], t0 = t1 - t0, t1
        opt.zero_grad()
        t1 = time.perf_counter()
        rec["zero_grad"], t0 = t1 - t0, t1
        g = crit.backward()
        t1 = time.perf_counter()
        rec["bwd loss"], t0 = t1 - t0, t1
        for name, layer in reversed(layers):
            if layer is params_only:
                layer.backward_params_only(g)
            elif id(layer) not in skipped:
                g = layer.backward(g)
            t1 = time.perf_counter()
            rec[f"bwd {name}"], t0 = t1 - t0, t1
        g = None  # freed here, as when Sequential.backward returns, not in the next step
        t1 = time.perf_counter()
        rec[f"bwd {layers[0][0]}"] += t1 - t0
        t0 = t1
        opt.step()
        t1 = time.perf_counter()
        rec["optimizer step"], rec["total"] = t1 - t0, t1 - start
        if i >= warmup:
            for k, v in rec.items():
                times[k].append(v)
    return times


def profile_torch(s: Any, batches: list, warmup: int) -> dict[str, list[float]]:
    """Per-component times (s) of each PyTorch step, layers named as in barenet."""
    import torch
    model, crit, opt = s.model, s.criterion, s.opt
    layers = leaves(model)
    times: dict[str, list[float]] = defaultdict(list)
    model.train()
    for i, (xn, yn) in enumerate(batches):
        x, y = torch.from_numpy(xn), torch.from_numpy(yn)
        rec: dict[str, float] = {}
        stamps: dict[str, float] = {}
        t0 = start = time.perf_counter()
        for name, layer in layers:
            x = layer(x)
            t1 = time.perf_counter()
            rec[f"fwd {name}"], t0 = t1 - t0, t1
            if x.requires_grad:
                x.register_hook(lambda g, n=name: stamps.__setitem__(n, time.perf_counter()))
        loss = crit(x, y)
        t1 = time.perf_counter()
        rec["fwd loss"], t0 = t1 - t0, t1
        opt.zero_grad()
        t1 = time.perf_counter()
        rec["zero_grad"], t0 = t1 - t0, t1
        loss.backward()
        t_end = time.perf_counter()
        rec["bwd loss"] = stamps[layers[-1][0]] - t0
        for k, (name, _) in enumerate(layers):  # from a layer's output grad to its input grad
            # the gradient reaches the nearest earlier layer whose output needs one (a first
            # layer without parameters, such as a reshape, never gets one), else it stops here
            earlier = [stamps[n] for n, _ in layers[:k] if n in stamps]
            done = earlier[-1] if earlier else t_end
            rec[f"bwd {name}"] = done - stamps[name] if name in stamps else 0.0
        t0 = t_end
        opt.step()
        t1 = time.perf_counter()
        rec["optimizer step"], rec["total"] = t1 - t0, t1 - start
        if i >= warmup:
            for k, v in rec.items():
                times[k].append(v)
    return times


def profile_model(name: str, data: common.Data, steps: int, warmup: int,
                  seed: int) -> dict[str, Any]:
    hp = cli_hparams(name)
    kind, bs = model_input(name), hp["batch_size"]
    model = build_model({"name": name}, rng=seed)
    batches = [b for _, b in zip(range(steps + warmup), data.loader(kind, bs, seed, 0))]
    loader = iter(data.loader(kind, bs, seed, 1))
    pipe = []
    for _ in range(min(steps + warmup, len(batches))):
        pipe.append(common.timed(lambda: next(loader)))
    med = {}
    for fw, fn in (("barenet", profile_barenet), ("torch", profile_torch)):
        raw = fn(make_setup(fw, model, hp), batches, warmup)
        med[fw] = {k: float(np.median(v)) * 1e3 for k, v in raw.items()}
    rows = []
    layer_names = [(n, _label(n, layer)) for n, layer in leaves(model)]
    data_ms = float(np.median(pipe[warmup:] or pipe)) * 1e3
    rows.append(["input pipeline (gather + Normalize)", data_ms, None, data_ms, None, None])
    for n, label in layer_names + [("loss", "loss (CrossEntropy)")]:
        b = (med["barenet"][f"fwd {n}"], med["barenet"][f"bwd {n}"])
        t = (med["torch"][f"fwd {n}"], med["torch"][f"bwd {n}"])
        rows.append([label, *b, *t, (b[0] + b[1]) / max(t[0] + t[1], 1e-9)])
    for k in ("zero_grad", "optimizer step", "total"):
        b, t = med["barenet"][k], med["torch"][k]
        rows.append([f"{k} (step, excl. input pipeline)" if k == "total" else k,
                     b, None, t, None, b / max(t, 1e-9)])
    return {"model": name, "batch_size": bs, "steps": steps, "hparams": hp,
            "median_ms": med, "input_pipeline_ms": data_ms, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="mlp,cnn", help="comma-separated model names")
    ap.add_argument("--steps", type=int, default=50, help="timed steps per model")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="OUT.json")
    ap.add_argument("--keep-openblas-env", action="store_true",
                    help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (by default they are unset)")
    ap.add_argument("--textbook", action="store_true",
                    help="run barenet's layers on their plain textbook code, without kernels")
    args = ap.parse_args(argv)
    if args.textbook:
        from barenet.nn import kernels
        kernels.set_enabled(False)
    import torch
    threads = common.blas_threads()
    torch.set_num_threads(threads)
    data = common.Data(limit_test=0)
    machine = common.machine_info(versions())
    print(f"{machine['cpu']}, {threads} threads, numpy {machine['numpy']}, torch "
          f"{machine['torch']}, {machine['blas_environment']}; median of {args.steps} steps, "
          f"milliseconds per step{' (barenet textbook code)' if args.textbook else ''}\n")
    results = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        res = profile_model(name, data, args.steps, args.warmup, args.seed)
        results.append(res)
        print(f"### {name} (batch {res['batch_size']}, {res['hparams']['optimizer']})\n")
        print(common.markdown_table(["part", "barenet fwd", "barenet bwd", "PyTorch fwd",
                                     "PyTorch bwd", "ratio"], res["rows"]))
        print()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"machine": machine, "results": results}, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    common.run_with_numpys_own_kernel(keep="--keep-openblas-env" in sys.argv[1:])
    sys.exit(main())
