"""barenet vs PyTorch on the CPU: training epochs, inference, time to accuracy, memory, FLOP/s.

Run: ``python benchmarks/run.py [--quick | --smoke] [--json OUT.json] [--readme README.md]
[--only SECTION,...]``. Sections: matmul (float32 matrix-multiply peak), mlp and cnn (training
epoch), lstm and vit (training epoch, scaled from a number of steps), infer (images/s at
batch 1 and 1000), flops (the MLP step's GFLOP/s), tta (time to 98% / 99% test accuracy),
memory (peak RSS of ``barenet train`` vs the PyTorch script).
Both frameworks run in this one process with the same thread count, data, batch size,
optimizer and initial weights. See benchmarks/README.md for the method.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import common
import sections
from frameworks import versions

SECTIONS = ("matmul", "mlp", "cnn", "lstm", "vit", "infer", "flops", "tta", "memory")
#: Models whose training epoch is timed (the sections of the same names).
EPOCH_MODELS = ("mlp", "cnn", "lstm", "vit")
#: Left out of ``--smoke`` unless named in --only: seconds per step even at toy sizes.
SLOW_TO_BUILD = ("lstm", "vit")
MODES: dict[str, dict[str, Any]] = {
    "full": dict(limit_train=None, limit_test=None, mlp_batches=None, cnn_batches=None,
                 lstm_batches=100, vit_batches=60,
                 repeats=5, warmup=50, n_single=2000, n_big=10, infer_repeats=5, flop_steps=400,
                 tta=True, tta_max_epochs=None, peak_size=2048, peak_repeats=5, peak_seconds=0.05,
                 big=1000),
    "quick": dict(limit_train=None, limit_test=None, mlp_batches=200, cnn_batches=25,
                  lstm_batches=20, vit_batches=10,
                  repeats=3, warmup=20, n_single=300, n_big=3, infer_repeats=3, flop_steps=150,
                  tta=False, tta_max_epochs=None, peak_size=2048, peak_repeats=5,
                  peak_seconds=0.05, big=1000),
    "smoke": dict(limit_train=256, limit_test=100, mlp_batches=2, cnn_batches=2,
                  lstm_batches=1, vit_batches=1, repeats=1,
                  warmup=1, n_single=5, n_big=1, infer_repeats=1, flop_steps=4, tta=True,
                  tta_max_epochs=1, peak_size=256, peak_repeats=1, peak_seconds=0.005,
                  big=100),
}
TARGETS = {"mlp_epoch_ratio": 0.6, "mlp_epoch_over_flop_bound": 1.5, "cnn_epoch_ratio": 1.0,
           "cnn_epoch_ratio_stretch": 0.7, "mlp_peak_memory_mb": 200.0}
ACCURACY_TARGETS = {"mlp": 0.98, "cnn": 0.99}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_sections(chosen: list[str], mode: str, explicit: bool, seed: int) -> dict[str, Any]:
    m = MODES[mode]
    from barenet.models import MODEL_NAMES
    missing = {name: {"skipped": f"model {name!r} is not registered"}
               for name in ACCURACY_TARGETS if name not in MODEL_NAMES}
    data = common.Data(m["limit_train"], m["limit_test"])
    res: dict[str, Any] = {}
    if "matmul" in chosen or "flops" in chosen:
        log("float32 matrix-multiply peak")
        res["matmul"] = sections.matmul_peak(m["peak_size"], m["peak_repeats"],
                                             m["peak_seconds"])
    for name in EPOCH_MODELS:
        if name in chosen and name in missing:
            res[f"{name}_epoch"] = missing[name]
        elif name in chosen and name not in MODEL_NAMES:
            res[f"{name}_epoch"] = {"skipped": f"model {name!r} is not registered"}
        elif name in chosen and name in SLOW_TO_BUILD and mode == "smoke" and not explicit:
            res[f"{name}_epoch"] = {"skipped": f"--smoke (ask with --only {name})"}
        elif name in chosen:
            log(f"{name}: training epoch")
            res[f"{name}_epoch"] = sections.epoch_time(
                name, data, seed, m[f"{name}_batches"], m["repeats"], m["warmup"])
    if "infer" in chosen:
        for name in ("mlp", "cnn"):
            if name in missing:
                res[f"{name}_infer"] = missing[name]
                continue
            log(f"{name}: inference")
            res[f"{name}_infer"] = sections.inference(name, data, seed, m["n_single"],
                                                      m["n_big"], m["infer_repeats"], m["big"])
    if "flops" in chosen:
        log("mlp: GFLOP/s of the training step")
        epoch_s = res.get("mlp_epoch", {}).get("barenet_s")
        res["mlp_flops"] = sections.mlp_flops(data, seed, m["flop_steps"], m["repeats"],
                                              res["matmul"], epoch_s)
    if "tta" in chosen and (m["tta"] or explicit):
        for name, target in ACCURACY_TARGETS.items():
            if name in missing:
                res[f"{name}_tta"] = missing[name]
                continue
            log(f"{name}: time to {target:.0%} test accuracy")
            res[f"{name}_tta"] = sections.time_to_accuracy(name, data, seed, target,
                                                           m["tta_max_epochs"])
    elif "tta" in chosen:
        res["mlp_tta"] = res["cnn_tta"] = {"skipped": f"--{mode} (ask with --only tta)"}
    if "memory" in chosen:
        log("peak memory of `barenet train` and the PyTorch script")
        res["memory"] = sections.peak_memory(smoke=(mode == "smoke"))
    return res


def _status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "missed")


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def build_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per reported number: metric, barenet, torch, ratio (barenet / PyTorch time or
    memory), target and status."""
    rows: list[dict[str, Any]] = []

    def add(metric, b, t, ratio, target="", ok=None):
        rows.append({"metric": metric, "barenet": b, "torch": t, "ratio": ratio,
                     "target": target, "status": _status(ok) if target else ""})

    for name, key, stretch in (("MLP", "mlp", None), ("CNN", "cnn", "cnn_epoch_ratio_stretch")):
        e = res.get(f"{key}_epoch")
        if e and "skipped" in e:
            add(f"{name} training epoch (s)", f"skipped: {e['skipped']}", None, None)
        elif e:
            r = _ratio(e["barenet_s"], e["torch_s"])
            limit = TARGETS[f"{key}_epoch_ratio"]
            target = f"<= {limit}x" + (f" (stretch {TARGETS[stretch]}x)" if stretch else "")
            add(f"{name} training epoch (s)", e["barenet_s"], e["torch_s"], r, target, r <= limit)
            if e.get("numpy_floor_s"):
                add(f"{name} epoch, the same step hand-written in NumPy, no framework (s)",
                    e["numpy_floor_s"], e["torch_s"], _ratio(e["numpy_floor_s"], e["torch_s"]))
    for name, key in (("LSTM", "lstm"), ("ViT", "vit")):
        e = res.get(f"{key}_epoch")
        if e and "skipped" in e:
            add(f"{name} training epoch (s)", f"skipped: {e['skipped']}", None, None)
        elif e:
            add(f"{name} training epoch (s), from {e['batches_timed']} steps", e["barenet_s"],
                e["torch_s"], _ratio(e["barenet_s"], e["torch_s"]))
    f = res.get("mlp_flops")
    if f:
        over = f["barenet_epoch_over_bound"]
        limit = TARGETS["mlp_epoch_over_flop_bound"]
        add("MLP epoch / FLOP-bound epoch time", over, None, None, f"<= {limit}",
            None if over is None else over <= limit)
        if f.get("barenet_epoch_over_shape_bound") is not None:
            add("MLP epoch / bound at its own batch-64 matmul speeds",
                f["barenet_epoch_over_shape_bound"], None, None)
        g = f["achieved_gflops"]
        add(f"MLP step GFLOP/s (x of {f['peak_gflops']:.0f} peak)",
            f"{g['barenet']:.1f} ({f['x_of_peak']['barenet']:.2f}x)",
            f"{g['torch']:.1f} ({f['x_of_peak']['torch']:.2f}x)", _ratio(g["torch"], g["barenet"]))
    for key, name in (("mlp", "MLP"), ("cnn", "CNN")):
        inf = res.get(f"{key}_infer")
        if inf and "skipped" in inf:
            add(f"{name} inference (images/s)", f"skipped: {inf['skipped']}", None, None)
        elif inf:
            for label in ("batch_1", "batch_large"):
                if label in inf:
                    d = inf[label]
                    add(f"{name} inference, batch {d['batch_size']} (images/s)",
                        d["barenet_img_s"], d["torch_img_s"],
                        _ratio(d["torch_img_s"], d["barenet_img_s"]))
    for key, name in (("mlp", "MLP"), ("cnn", "CNN")):
        tta = res.get(f"{key}_tta")
        if tta and "skipped" in tta:
            add(f"{name} time to {ACCURACY_TARGETS[key]:.0%} test accuracy",
                f"skipped: {tta['skipped']}", None, None)
        elif tta:
            cells = [(f"{tta[fw]['seconds']:.1f} s ({tta[fw]['reached_epoch']} ep)"
                      if tta[fw]["seconds"] is not None else
                      f"not reached ({max(tta[fw]['accuracy'], default=0):.4f})")
                     for fw in ("barenet", "torch")]
            add(f"{name} time to {tta['target']:.0%} test accuracy", *cells,
                _ratio(tta["barenet"]["seconds"], tta["torch"]["seconds"]))
    mem = res.get("memory")
    if mem:
        b, t = (mem.get(fw, {}).get("peak_rss_mb") if "error" not in mem.get(fw, {}) else None
                for fw in ("barenet", "torch"))
        cells = [v if v is not None else f"failed: {mem.get(fw, {}).get('error', '?')}"
                 for v, fw in ((b, "barenet"), (t, "torch"))]
        limit = TARGETS["mlp_peak_memory_mb"]
        add("Peak memory, MLP `barenet train` vs PyTorch script (MB)", *cells, _ratio(b, t),
            f"<= {limit:.0f} MB", None if b is None else b <= limit)
        np_run = mem.get("barenet_no_plots", {})
        if np_run.get("peak_rss_mb") is not None and "error" not in np_run:
            add("Peak memory, the same with --no-plots (MB)", np_run["peak_rss_mb"], t,
                _ratio(np_run["peak_rss_mb"], t))
    mm = res.get("matmul")
    if mm:
        add(f"float32 matmul peak, {mm['size']}x{mm['size']} (GFLOP/s)", mm["gflops"], None, None)
    return rows


def report(rows: list[dict[str, Any]], machine: dict[str, Any], mode: str) -> str:
    """The markdown block: how it was measured, the table, how to read it."""
    table = common.markdown_table(
        ["measurement", "barenet", "PyTorch", "ratio", "target", "status"],
        [[r["metric"], r["barenet"], r["torch"], r["ratio"], r["target"] or None,
          r["status"] or None] for r in rows])
    note = {"full": "", "quick": " Quick mode: partial epochs, scaled to a full epoch.",
            "smoke": " SMOKE MODE: tiny sizes, the numbers mean nothing."}[mode]
    return (f"Measured with `python benchmarks/run.py{'' if mode == 'full' else ' --' + mode}` on "
            f"{machine['cpu']} ({machine['logical_cores']} logical cores, "
            f"{machine['blas_threads']} threads for NumPy's BLAS and PyTorch), numpy "
            f"{machine['numpy']}, torch {machine['torch']}, barenet {machine['barenet']}, "
            f"{machine['blas_environment']}, {machine['date']}.{note}\n\n{table}\n\n"
            "ratio = barenet / PyTorch time per unit of work (memory: barenet / PyTorch peak "
            "RSS); below 1 barenet is faster (or smaller). Same initial weights, batches, batch "
            "size and optimizer in both; method in `benchmarks/README.md`.\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="partial epochs, no time-to-accuracy")
    mode.add_argument("--smoke", action="store_true",
                      help="tiny sizes (seconds): checks the harness, numbers mean nothing")
    ap.add_argument("--json", metavar="OUT.json", help="write every raw number here")
    ap.add_argument("--readme", metavar="README.md",
                    help="replace the text between the benchmark markers of this file")
    ap.add_argument("--only", metavar="LIST",
                    help=f"comma-separated subset of {','.join(SECTIONS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-openblas-env", action="store_true",
                    help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (by default they are unset)")
    args = ap.parse_args(argv)
    chosen = SECTIONS if not args.only else tuple(s.strip() for s in args.only.split(",") if s)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {', '.join(unknown)}; expected some of {', '.join(SECTIONS)}")
    mode_name = "quick" if args.quick else "smoke" if args.smoke else "full"
    try:
        import torch
    except ImportError:
        print("benchmarks/run.py: PyTorch is needed (pip install torch==2.13.0)", file=sys.stderr)
        return 2
    if mode_name == "smoke":  # tiny sizes whose numbers mean nothing: no pauses
        common.SETTLE_SECONDS = 0.0
    threads = common.blas_threads()
    torch.set_num_threads(threads)
    machine = common.machine_info(versions())
    machine["torch_threads"] = torch.get_num_threads()
    log(f"mode {mode_name}, sections {','.join(chosen)}, {threads} threads, "
        f"{machine['blas_environment']}")
    results = run_sections(list(chosen), mode_name, bool(args.only), args.seed)
    rows = build_rows(results)
    if mode_name == "smoke":  # tiny sizes: a target cannot be met or missed
        for r in rows:
            r["status"] = "smoke" if r["status"] else ""
    text = report(rows, machine, mode_name)
    print(text)
    if args.json:
        payload = {"mode": mode_name, "machine": machine, "targets": TARGETS,
                   "accuracy_targets": ACCURACY_TARGETS, "sections": list(chosen),
                   "results": results, "rows": rows}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1, default=float)
            fh.write("\n")
    if args.readme:
        if not common.replace_between_markers(args.readme, text):
            print(f"note: {args.readme} has no '{common.START}' ... '{common.END}' markers; "
                  "left unchanged", file=sys.stderr)
    return 0


if __name__ == "__main__":
    common.run_with_numpys_own_kernel(keep="--keep-openblas-env" in sys.argv[1:])
    sys.exit(main())
