"""The measurements of ``run.py``, one function per section; each returns a JSON-able dict.

Every comparison builds one barenet model from a seed, copies its weights into a PyTorch twin,
and feeds both the same batches (barenet's DataLoader + Normalize, the same shuffling seed per
epoch); the two frameworks alternate within each repeat so that a change in machine load hits
both alike.
"""
from __future__ import annotations

import importlib.util
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import Data, child_peak_rss, matmul_gflops, median, settle, timed
from frameworks import accuracy, cli_hparams, make_setup, train_epoch

from barenet.models import build_model, model_input

FRAMEWORKS = ("barenet", "torch")
BENCH_DIR = Path(__file__).resolve().parent


def _setups(name: str, hp: dict[str, Any], seed: int, **kw: Any) -> dict[str, Any]:
    model = build_model({"name": name}, rng=seed)
    return {fw: make_setup(fw, model, hp, **kw) for fw in FRAMEWORKS}


def _drain(it: Any, n: int) -> None:
    for _ in zip(range(n), it):
        pass


def _order(r: int) -> tuple[str, ...]:
    return FRAMEWORKS if r % 2 == 0 else FRAMEWORKS[::-1]


def linear_flops_per_sample(name: str) -> int:
    """Forward multiply-add FLOPs of every Linear layer of model ``name``: 2 * sum(in * out)."""
    model = build_model({"name": name}, rng=0)
    return sum(2 * m.in_features * m.out_features for m in model.modules()
               if type(m).__name__ == "Linear")


# -- sections ---------------------------------------------------------------------------------
def matmul_peak(size: int = 2048, repeats: int = 5, min_seconds: float = 0.05
                ) -> dict[str, Any]:
    """float32 matrix-multiply GFLOP/s: (size x size)^2 and the classic MLP's batch-64 shapes
    (forward x W^T, weight gradient g^T x, input gradient g W)."""
    shapes = {"64x784 @ 784x200": (64, 784, 200), "200x64 @ 64x784": (200, 64, 784),
              "64x200 @ 200x784": (64, 200, 784)}
    return {"size": size, "gflops": matmul_gflops(size, size, size, repeats, min_seconds),
            "mlp_shapes_gflops": {k: matmul_gflops(*v, repeats, min_seconds)
                                  for k, v in shapes.items()}}


def epoch_time(name: str, data: Data, seed: int, max_batches: int | None, repeats: int,
               warmup: int) -> dict[str, Any]:
    """Seconds per training epoch, median of ``repeats`` (scaled from ``max_batches`` steps
    to the full epoch when given), with the CLI's optimizer and batch size, constant lr."""
    hp = cli_hparams(name)
    kind, bs = model_input(name), hp["batch_size"]
    setups = _setups(name, hp, seed)
    # The classic MLP also runs as a hand-written NumPy step (benchmarks/numpy_floor.py).
    floor = name == "mlp" and hp["optimizer"] == "sgd"
    if floor:
        setups["numpy"] = make_setup("numpy", build_model({"name": name}, rng=seed), hp)
    full = len(data.loader(kind, bs, seed, 0))
    for s in setups.values():
        train_epoch(s, data.loader(kind, bs, seed, 0), warmup)
    times: dict[str, list[float]] = {fw: [] for fw in setups}
    steps = full
    for r in range(repeats):
        for fw in _order(r) + (("numpy",) if floor else ()):
            loader = data.loader(kind, bs, seed, r + 1)
            box = {}
            settle()
            t = timed(lambda: box.setdefault("n", train_epoch(setups[fw], loader, max_batches)))
            steps = box["n"]
            times[fw].append(t * full / steps)
    data_s = []
    for r in range(repeats):  # the input pipeline alone (included in both epoch times)
        it = iter(data.loader(kind, bs, seed, r + 1))
        data_s.append(timed(lambda: _drain(it, steps)) * full / steps)
    return {"model": name, "hparams": hp, "batches_per_epoch": full, "batches_timed": steps,
            "samples_per_epoch": len(data.train_y), "repeats": repeats,
            "barenet_s": median(times["barenet"]), "torch_s": median(times["torch"]),
            "barenet_all_s": times["barenet"], "torch_all_s": times["torch"],
            "data_pipeline_s": median(data_s),
            "numpy_floor_s": median(times["numpy"]) if floor else None}


def inference(name: str, data: Data, seed: int, n_single: int, n_big: int, repeats: int,
              big: int = 1000) -> dict[str, Any]:
    """Images per second in eval mode at batch 1 (``n_single`` images) and batch ``big``
    (``n_big`` batches of the test set); PyTorch under ``torch.inference_mode()``. Results
    under "batch_1" and "batch_large" (with its "batch_size")."""
    import torch
    hp = cli_hparams(name)
    setups = _setups(name, hp, seed)
    x = data.test_inputs(model_input(name))
    singles = [x[i:i + 1] for i in range(min(n_single, len(x)))]
    bigs = [x[i:i + big] for i in range(0, min(n_big * big, len(x)), big)]
    b_model, t_model = setups["barenet"].model.eval(), setups["torch"].model.eval()

    def barenet_run(xs):
        for xb in xs:
            b_model(xb)

    def torch_run(xs):
        with torch.inference_mode():
            for xb in xs:
                t_model(xb)

    out: dict[str, Any] = {"model": name}
    for label, xs in (("batch_1", singles), ("batch_large", bigs)):
        xt = [torch.from_numpy(xb) for xb in xs]
        barenet_run(xs[:3]), torch_run(xt[:3])  # warm-up
        rates: dict[str, list[float]] = {fw: [] for fw in FRAMEWORKS}
        n = sum(len(xb) for xb in xs)
        for r in range(repeats):
            for fw in _order(r):
                run = (lambda: barenet_run(xs)) if fw == "barenet" else (lambda: torch_run(xt))
                settle()
                rates[fw].append(n / timed(run))
        out[label] = {"batch_size": len(xs[0]), "images": n,
                      "barenet_img_s": median(rates["barenet"]),
                      "torch_img_s": median(rates["torch"])}
    return out


def mlp_flops(data: Data, seed: int, n_steps: int, repeats: int, matmul: dict[str, Any],
              epoch_s: float | None, name: str = "mlp") -> dict[str, Any]:
    """Achieved GFLOP/s of the MLP training step (pre-normalised batches, so the step alone):
    forward 2*N*sum(in*out) FLOPs, backward twice that (dW and dx of every Linear).

    Two bounds: the epoch's FLOPs at the large-matrix peak (``flop_bound_epoch_s``), and at
    the speeds ``matmul`` measured for the step's own three products at batch 64, one third
    of the FLOPs each (``shape_bound_epoch_s``)."""
    peak_gflops = matmul["gflops"]
    hp = cli_hparams(name)
    setups = _setups(name, hp, seed)
    kind, bs = model_input(name), hp["batch_size"]
    batches = [b for _, b in zip(range(n_steps), data.loader(kind, bs, seed, 0))]
    per_sample = 3 * linear_flops_per_sample(name)
    step_flops = per_sample * bs
    for s in setups.values():
        train_epoch(s, batches[:10])
    times: dict[str, list[float]] = {fw: [] for fw in FRAMEWORKS}
    for r in range(repeats):
        for fw in _order(r):
            settle()
            times[fw].append(timed(lambda: train_epoch(setups[fw], batches)) / len(batches))
    step = {fw: median(times[fw]) for fw in FRAMEWORKS}
    epoch_flops = per_sample * len(data.train_y)
    bound = epoch_flops / (peak_gflops * 1e9)
    rates = list(matmul.get("mlp_shapes_gflops", {}).values())
    shape_bound = sum(epoch_flops / 3 / (r * 1e9) for r in rates) if rates else None
    return {"model": name, "batch_size": bs, "flops_per_sample": per_sample,
            "flops_per_step": step_flops, "epoch_flops": epoch_flops,
            "step_ms": {fw: step[fw] * 1e3 for fw in FRAMEWORKS},
            "achieved_gflops": {fw: step_flops / step[fw] / 1e9 for fw in FRAMEWORKS},
            "peak_gflops": peak_gflops,
            "x_of_peak": {fw: step_flops / step[fw] / 1e9 / peak_gflops for fw in FRAMEWORKS},
            "flop_bound_epoch_s": bound,
            "barenet_epoch_over_bound": None if epoch_s is None else epoch_s / bound,
            "shape_bound_epoch_s": shape_bound,
            "barenet_epoch_over_shape_bound":
                None if epoch_s is None or shape_bound is None else epoch_s / shape_bound,
            "step_only_epoch_over_bound": step["barenet"] * len(data.train_y) / bs / bound}


def time_to_accuracy(name: str, data: Data, seed: int, target: float,
                     max_epochs: int | None = None) -> dict[str, Any]:
    """Train both frameworks with the CLI's full schedule (optimizer, lr schedule, batch
    size, epochs), evaluating the test set after every epoch, until ``target`` accuracy or the
    schedule's last epoch (or ``max_epochs``). Seconds count training only, not evaluation."""
    hp = cli_hparams(name)
    if max_epochs is not None:
        hp["epochs"] = min(hp["epochs"], max_epochs)
    kind, bs = model_input(name), hp["batch_size"]
    steps = len(data.loader(kind, bs, seed, 0))
    setups = _setups(name, hp, seed, schedule=True, steps_per_epoch=steps)
    xt = data.test_inputs(kind)
    res = {fw: {"accuracy": [], "epoch_s": [], "reached_epoch": None, "seconds": None}
           for fw in FRAMEWORKS}
    active = list(FRAMEWORKS)
    for epoch in range(1, hp["epochs"] + 1):
        for fw in list(active):
            s, r = setups[fw], res[fw]
            settle()
            r["epoch_s"].append(timed(lambda: train_epoch(s, data.loader(kind, bs, seed, epoch))))
            r["accuracy"].append(accuracy(s, xt, data.test_y))
            if r["accuracy"][-1] >= target:
                r["reached_epoch"], r["seconds"] = epoch, float(sum(r["epoch_s"]))
                active.remove(fw)
        if not active:
            break
    return {"model": name, "target": target, "hparams": hp, **res}


def peak_memory(smoke: bool, workdir: str | None = None) -> dict[str, Any]:
    """Peak resident memory of ``barenet train`` (default MLP, one epoch) and of the PyTorch
    script doing the same, each in its own child process."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="barenet-bench-"))
    limits = ["--limit-train", "256", "--limit-test", "100"] if smoke else []
    cmds = {"barenet": [sys.executable, "-m", "barenet", "train", "--epochs", "1", "--quiet",
                        "--out", str(tmp / "barenet-run"), *limits],
            "torch": [sys.executable, str(BENCH_DIR / "torch_mlp_train.py"), "--epochs", "1",
                      "--quiet", "--out", str(tmp / "torch-run"), *limits]}
    if not smoke:  # the same run without matplotlib's figures, to show what they cost
        cmds["barenet_no_plots"] = cmds["barenet"][:-len(limits) or None] + ["--no-plots"]
        cmds["barenet_no_plots"][cmds["barenet"].index("--out") + 1] += "-no-plots"
    out: dict[str, Any] = {"workdir": str(tmp)}
    if importlib.util.find_spec("barenet.cli.train") is None:
        for fw in [k for k in cmds if k.startswith("barenet")]:
            out[fw] = {"error": "the `barenet train` command is not available"}
            del cmds[fw]

    def measure(fw: str) -> dict[str, Any]:
        res = child_peak_rss(cmds[fw], log=tmp / f"{fw}.log")
        if res["returncode"] != 0:
            res["error"] = f"exit code {res['returncode']}, see {tmp / f'{fw}.log'}"
        return res

    # One after the other, except in the smoke test (each peak is its own process's anyway).
    with ThreadPoolExecutor(max_workers=len(cmds) if smoke else 1) as pool:
        out.update(zip(cmds, pool.map(measure, cmds)))
    return out

