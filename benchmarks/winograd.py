"""Winograd F(2x2, 3x3) against im2col: Conv2d's 3x3 layers, whole training steps, accuracy.

Run: ``python benchmarks/winograd.py [--only layers,steps,accuracy] [--models cnn-large,cnn]
[--repeats 9] [--steps 10] [--blocks 5] [--torch] [--json OUT.json]``.

- ``layers``: every 3x3 stride-1 Conv2d of each model, at the batch size ``barenet train``
  uses, forward + backward (the model's first layer skips dL/dx, as in training) with each
  algorithm forced (``kernels.conv_algorithm``), alternating im2col, Winograd, im2col, ...
  ``--repeats`` times after a warm-up; median and range in ms, and the median of the
  Winograd / im2col ratios of the pairs.
  Inputs and upstream gradients are batch-last views, as conv outputs hand them on.
- ``steps``: one training step of the whole model (forward, loss, backward, optimizer) with
  "auto" (Winograd where ``winograd.chosen`` picks it) and with im2col forced, alternating
  step by step over ``--steps`` batches, ``--blocks`` times; with ``--torch`` each block is
  followed by ``--steps`` PyTorch steps from the same weights, after a pause
  (``common.settle``). The median step of each block is kept; reported are the median and
  range over blocks, and the median of the step-by-step auto / im2col ratios.
- ``--clock cpu`` times with the process's CPU time instead of the wall clock: with
  ``OPENBLAS_NUM_THREADS=1`` it counts the work done whatever else runs on the machine (with
  more BLAS threads it would count their spinning too).
- ``accuracy``: the float32 error of each algorithm against the float64 textbook convolution,
  max |error| / max |reference| for y, dL/dx and dL/dW, on random inputs of the layer's shape.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable

import common
import numpy as np
from frameworks import cli_hparams, make_setup, training_backward, versions

from barenet import nn
from barenet.models import build_model, model_input
from barenet.nn import kernels
from barenet.nn.architecture import describe
from barenet.nn.architecture_shapes import shapes
from barenet.nn.kernels import winograd
from barenet.nn.kernels.batch_last import from_work

ALGORITHMS = ("im2col", "winograd")
CLOCK: Callable[[], float] = time.perf_counter


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes on ``CLOCK``."""
    t0 = CLOCK()
    fn()
    return CLOCK() - t0


def conv_layers(name: str) -> list[dict[str, Any]]:
    """The 3x3 stride-1 Conv2d layers of model ``name``: config, input shape, batch, first."""
    model = build_model(name, rng=0)
    batch = cli_hparams(name)["batch_size"]
    found = []
    for i, (path, d, shape, _) in enumerate(shapes(describe(model), (1, 28, 28))):
        args = d["args"]
        if d["type"] == "Conv2d" and winograd.applies((0, 0, *_pair(args["kernel_size"])),
                                                      _pair(args.get("stride", 1))):
            found.append({"model": name, "args": args, "shape": shape, "batch": batch,
                          "first": i == 0})
    return found


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _label(c: dict[str, Any]) -> str:
    a, (_, h, w) = c["args"], c["shape"]
    return (f"{c['model']} Conv2d({a['in_channels']}, {a['out_channels']}), {h}x{w}, "
            f"padding {_pair(a['padding'])[0]}, N {c['batch']}")


def _batch_last(rng: np.random.Generator, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A random (N, C, H, W) array stored batch-last, as a conv output hands it on."""
    n, rest = shape[0], shape[1:]
    return from_work(rng.standard_normal((*rest, n)).astype(dtype))


def _layer_step(c: dict[str, Any], algorithm: str, rng: np.random.Generator
                ) -> Callable[[], None]:
    """A closure running one forward + backward of the layer with ``algorithm`` forced."""
    layer = nn.Conv2d(**c["args"], rng=0)
    n, shape = c["batch"], c["shape"]
    x = (rng.standard_normal((n, *shape)).astype(np.float32) if c["first"]
         else _batch_last(rng, (n, *shape)))
    g = _batch_last(rng, (n, layer.out_channels, *layer.output_shape(*shape[1:])))
    backward = layer.backward_params_only if c["first"] else layer.backward

    def step() -> None:
        with kernels.conv_algorithm(algorithm):
            layer(x)
            backward(g)
    return step


def time_layers(models: list[str], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for c in [c for m in models for c in conv_layers(m)]:
        steps = {a: _layer_step(c, a, np.random.default_rng(0)) for a in ALGORITHMS}
        times: dict[str, list[float]] = {a: [] for a in ALGORITHMS}
        for a in ALGORITHMS:
            steps[a]()                                     # warm-up: work arrays allocated
        for _ in range(repeats):
            for a in ALGORITHMS:
                times[a].append(timed(steps[a]) * 1e3)
        med = {a: common.median(t) for a, t in times.items()}
        layer = nn.Conv2d(**c["args"])
        with kernels.conv_algorithm("auto"):
            auto = "winograd" if winograd.chosen(layer.weight.shape, layer.stride,
                                                 layer.output_shape(*c["shape"][1:])) \
                else "im2col"
        paired = common.median([w / i for w, i in zip(times["winograd"], times["im2col"])])
        rows.append({"layer": _label(c), "first": c["first"], "ms": times, "median": med,
                     "ratio": paired, "auto": auto})
    return rows


def time_steps(models: list[str], data: common.Data, steps: int, blocks: int,
               with_torch: bool, seed: int) -> list[dict[str, Any]]:
    """Per block: ``steps`` barenet steps with im2col and with "auto", alternating step by
    step (so each pair sees the same load), then (``with_torch``) ``steps`` PyTorch steps
    after a pause."""
    out = []
    for name in models:
        hp = cli_hparams(name)
        model = build_model(name, rng=seed)
        loader = data.loader(model_input(name), hp["batch_size"], seed, 0)
        batches = [b for _, b in zip(range(steps), loader)]
        runs = {k: _one_step(make_setup("barenet", model, hp), k) for k in ("im2col", "auto")}
        if with_torch:
            runs["torch"] = _one_step(make_setup("torch", model, hp), "torch")
        medians: dict[str, list[float]] = {k: [] for k in runs}
        ratios: list[float] = []
        for _ in range(blocks):
            common.settle()
            pair: dict[str, list[float]] = {"im2col": [], "auto": []}
            for x, y in [batches[0], *batches]:            # the first pair is a warm-up
                for key in pair:
                    pair[key].append(timed(lambda: runs[key](x, y)) * 1e3)
            ratios += [a / b for a, b in zip(pair["auto"][1:], pair["im2col"][1:])]
            for key, t in pair.items():
                medians[key].append(common.median(t[1:]))
            if with_torch:
                common.settle()
                runs["torch"](*batches[0])
                medians["torch"].append(common.median([timed(lambda: runs["torch"](x, y)) * 1e3
                                                       for x, y in batches]))
        out.append({"model": name, "batch": hp["batch_size"], "block_medians_ms": medians,
                    "median_ms": {k: common.median(v) for k, v in medians.items()},
                    "paired_ratio": common.median(ratios)})
    return out


def _one_step(s: Any, key: str) -> Callable[[np.ndarray, np.ndarray], None]:
    if s.framework == "torch":
        import torch

        def torch_step(x: np.ndarray, y: np.ndarray) -> None:
            loss = s.criterion(s.model(torch.from_numpy(x)), torch.from_numpy(y))
            s.opt.zero_grad()
            loss.backward()
            s.opt.step()
        return torch_step
    backward = training_backward(s.model)

    def barenet_step(x: np.ndarray, y: np.ndarray) -> None:
        with kernels.conv_algorithm(key):
            s.criterion(s.model(x), y)
            s.opt.zero_grad()
            backward(s.criterion.backward())
            s.opt.step()
    return barenet_step


def accuracy(models: list[str], seed: int) -> list[dict[str, Any]]:
    rows = []
    for c in [c for m in models for c in conv_layers(m)]:
        rng = np.random.default_rng(seed)
        layer = nn.Conv2d(**c["args"], rng=seed)                  # float32 weights
        x = rng.standard_normal((c["batch"], *c["shape"])).astype(np.float32)
        g = rng.standard_normal((c["batch"], layer.out_channels,
                                 *layer.output_shape(*c["shape"][1:]))).astype(np.float32)
        row = {"layer": _label(c)}
        for a in ALGORITHMS:
            with kernels.conv_algorithm(a):
                row[a] = _run(layer, x, g)
        with kernels.textbook():                # the same float32 numbers, in float64
            ref = _run(layer.astype(np.float64), x.astype(np.float64), g.astype(np.float64))
        for a in ALGORITHMS:
            row[a] = {k: float(np.abs(row[a][k] - ref[k]).max() / np.abs(ref[k]).max())
                      for k in ref}
        rows.append(row)
    return rows


def _run(layer: nn.Conv2d, x: np.ndarray, g: np.ndarray) -> dict[str, np.ndarray]:
    layer.zero_grad()
    y = np.array(layer(x))
    dx = np.array(layer.backward(g))
    return {"y": y, "dx": dx, "dW": np.array(layer.weight.grad)}


def report(result: dict[str, Any]) -> None:
    if "layers" in result:
        print("### Forward + backward of each 3x3 layer (ms: median [min, max]; ratio: median "
              "of the Winograd / im2col pairs)\n")
        print(common.markdown_table(
            ["layer", "im2col", "Winograd", "ratio", "auto picks"],
            [[r["layer"] + (" (first: no dL/dx)" if r["first"] else ""),
              _spread(r["ms"]["im2col"]), _spread(r["ms"]["winograd"]), r["ratio"], r["auto"]]
             for r in result["layers"]]))
        print()
    if "steps" in result:
        print("### Training step of the whole model (ms: median of block medians [min, max]; "
              "auto / im2col: median of the step-by-step pairs)\n")
        rows = []
        for r in result["steps"]:
            m, b = r["median_ms"], r["block_medians_ms"]
            row = [f"{r['model']} (batch {r['batch']})", _spread(b["im2col"]), _spread(b["auto"]),
                   r["paired_ratio"]]
            if "torch" in m:
                row += [_spread(b["torch"]), m["im2col"] / m["torch"], m["auto"] / m["torch"]]
            rows.append(row)
        head = ["model", "im2col only", "auto (Winograd)", "auto / im2col"]
        if rows and len(rows[0]) > 4:
            head += ["PyTorch", "im2col / PyTorch", "auto / PyTorch"]
        print(common.markdown_table(head, rows))
        print()
    if "accuracy" in result:
        print("### float32 error against float64 (max |error| / max |reference|)\n")
        print(common.markdown_table(
            ["layer", *(f"{a} {k}" for a in ALGORITHMS for k in ("y", "dx", "dW"))],
            [[r["layer"], *(f"{r[a][k]:.1e}" for a in ALGORITHMS for k in ("y", "dx", "dW"))]
             for r in result["accuracy"]]))
        print()


def _spread(xs: list[float]) -> str:
    return f"{common.median(xs):.1f} [{min(xs):.1f}, {max(xs):.1f}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="layers,steps,accuracy")
    ap.add_argument("--models", default="cnn-large,cnn")
    ap.add_argument("--repeats", type=int, default=9, help="alternating timings per layer")
    ap.add_argument("--steps", type=int, default=10, help="training steps per block")
    ap.add_argument("--blocks", type=int, default=5, help="alternating blocks per setting")
    ap.add_argument("--torch", action="store_true", help="also time PyTorch's training step")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.torch:
        import torch
        torch.set_num_threads(common.blas_threads())
    machine = common.machine_info(versions())
    print(f"{machine['cpu']}, {machine['blas_threads']} BLAS threads, "
          f"{machine['blas_environment']}, load at start {machine['loadavg_at_start']}, "
          f"{args.clock} clock\n")
    result: dict[str, Any] = {"machine": machine, "args": vars(args)}
    t0 = time.perf_counter()
    if "layers" in only:
        result["layers"] = time_layers(models, args.repeats)
    if "steps" in only:
        result["steps"] = time_steps(models, common.Data(limit_test=0), args.steps,
                                     args.blocks, args.torch, args.seed)
    if "accuracy" in only:
        result["accuracy"] = accuracy(models, args.seed)
    report(result)
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    common.run_with_numpys_own_kernel()
    sys.exit(main())
