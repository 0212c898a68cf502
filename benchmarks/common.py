"""Shared pieces of the benchmark scripts: the machine, timing, data, child memory, tables.

Nothing here imports torch; the scripts import it only where they use it.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from barenet import compare
from barenet.data.datasets import load_dataset
from barenet.data.loader import DataLoader
from barenet.data.transforms import Normalize

MB = 1e6  # memory is reported in MB = 10^6 bytes (the stricter reading of "200 MB")


# -- the machine ------------------------------------------------------------------------------
#: Set on this project's machines for old OpenBLAS builds; with a current NumPy they force an
#: older kernel (Haswell instead of SkylakeX), which is not what a user's NumPy runs.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def run_with_numpys_own_kernel(keep: bool = False) -> None:
    """Re-run this script (``os.execve``) without ``OPENBLAS_OVERRIDES`` in its environment,
    so that it and every process it starts time the kernel NumPy picks by itself. Does
    nothing when ``keep`` is true or neither variable is set. Call it first thing in
    ``__main__``, never from a test."""
    if keep or not any(v in os.environ for v in OPENBLAS_OVERRIDES):
        return
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_OVERRIDES}
    env["BARENET_BENCH_UNSET"] = ",".join(v for v in OPENBLAS_OVERRIDES if v in os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def blas_environment() -> str:
    """One line: the OpenBLAS kernel in use and what was done with the override variables."""
    kernel = _openblas()[1] or "unknown"
    unset = os.environ.get("BARENET_BENCH_UNSET")
    kept = [f"{v}={os.environ[v]}" for v in OPENBLAS_OVERRIDES if v in os.environ]
    how = (f"unset {unset}" if unset else f"kept {' '.join(kept)}" if kept else "no overrides set")
    return f"OpenBLAS kernel {kernel} ({how})"


def _openblas() -> tuple[int | None, str | None]:
    """(threads, kernel name) of the OpenBLAS bundled with NumPy, asked through ctypes;
    (None, None) if there is none or it cannot be asked."""
    import ctypes
    import glob
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*.so*"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                get_threads = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                get_core = getattr(lib, f"{prefix}get_corename{suffix}", None)
                if get_threads is not None:
                    core = None
                    if get_core is not None:
                        get_core.restype = ctypes.c_char_p
                        core = get_core().decode()
                    return int(get_threads()), core
    return None, None


def blas_threads() -> int:
    """Threads NumPy's BLAS uses: threadpoolctl if installed, else NumPy's bundled OpenBLAS
    itself, else the usual environment variables, else the CPUs this process may run on."""
    try:
        from threadpoolctl import threadpool_info
        counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
        if counts:
            return int(max(counts))
    except ImportError:
        pass
    threads, _ = _openblas()
    if threads:
        return threads
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or the platform's description)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(versions: dict[str, str]) -> dict[str, Any]:
    """CPU, core and thread counts, library versions, date and the load when the run began."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpu": cpu_model(), "logical_cores": os.cpu_count(), "blas_threads": blas_threads(),
            "openblas_kernel": _openblas()[1], "blas_environment": blas_environment(),
            "python": platform.python_version(), **versions,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "loadavg_at_start": load}


# -- timing -----------------------------------------------------------------------------------
#: Seconds to wait before timing a framework. After its last operation, each library's idle
#: threads keep spinning for a while (here PyTorch was slowed for 0.1-0.2 s after NumPy), and
#: they would share the two cores with the framework timed next: without the pause a short
#: run (the inference batches) measured the other framework's spinning threads, not its own.
SETTLE_SECONDS = compare.SETTLE_SECONDS  # 0.5 s, the pause `barenet compare` makes too


def settle() -> None:
    """Let the previously timed framework's threads go idle (see ``SETTLE_SECONDS``)."""
    if SETTLE_SECONDS > 0:
        time.sleep(SETTLE_SECONDS)


def timed(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds one call of ``fn`` takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def matmul_gflops(m: int, k: int, n: int, repeats: int = 5, min_seconds: float = 0.05,
                  seed: int = 0) -> float:
    """Best float32 GFLOP/s of ``(m, k) @ (k, n)`` over ``repeats`` timings (each timing loops
    the product until ``min_seconds`` have passed)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        count, t0 = 0, time.perf_counter()
        while True:
            np.matmul(a, b, out=out)
            count += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / count)
    return 2.0 * m * k * n / best / 1e9


# -- data -------------------------------------------------------------------------------------
class Data:
    """MNIST train/test as stored (uint8) plus the Normalize transforms both frameworks use."""

    def __init__(self, limit_train: int | None = None, limit_test: int | None = None) -> None:
        train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
        self.train_x, self.train_y = train.images[:limit_train], train.labels[:limit_train]
        self.test_x, self.test_y = test.images[:limit_test], test.labels[:limit_test]
        self.mean, self.std = train.mean, train.std

    def normalize(self, kind: str) -> Normalize:
        """uint8 -> float32 transform for a model taking "flat" (N, 784) or "image" input."""
        return Normalize(self.mean, self.std, flatten=(kind == "flat"))

    def loader(self, kind: str, batch_size: int, seed: int, epoch: int) -> DataLoader:
        """Shuffled training batches of epoch ``epoch``: the same order for every framework."""
        return DataLoader(self.train_x, self.train_y, batch_size=batch_size, shuffle=True,
                          rng=np.random.default_rng([seed, epoch]),
                          transform=self.normalize(kind))

    def test_inputs(self, kind: str) -> np.ndarray:
        return self.normalize(kind)(self.test_x)


# -- memory of a child process ----------------------------------------------------------------
# A child's ru_maxrss starts at its parent's resident size (Linux carries the high-water mark
# across fork and exec), so the command runs under a small wrapper process: the wrapper's
# RUSAGE_CHILDREN then holds the command's own peak, not this (large) process's.
_WRAPPER = ("import resource, subprocess, sys\n"
            "rc = subprocess.call(sys.argv[2:])\n"
            "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN)"
            ".ru_maxrss))\n"
            "sys.exit(rc)\n")


def child_peak_rss(cmd: list[str], log: str | os.PathLike, cwd: str | None = None,
                   timeout: float = 1800.0) -> dict[str, Any]:
    """Run ``cmd`` (output to file ``log``) and return its peak resident memory in MB, its
    wall seconds and exit code."""
    log = Path(log)
    rss_file = log.with_suffix(".maxrss")
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        try:
            rc = subprocess.call([sys.executable, "-S", "-c", _WRAPPER, str(rss_file), *cmd],
                                 cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        seconds = time.perf_counter() - t0
    try:
        kib = int(rss_file.read_text())
    except (OSError, ValueError):
        kib = None
    return {"peak_rss_mb": None if kib is None else kib * 1024 / MB,
            "seconds": round(seconds, 2), "returncode": rc, "command": " ".join(cmd)}


# -- output -----------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (thousands kept whole), or the text."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    v = float(value)
    if not np.isfinite(v):
        return str(v)
    if abs(v) >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def replace_between_markers(path: str | os.PathLike, text: str) -> bool:
    """Put ``text`` between the benchmark markers of file ``path``; False (file untouched) if
    either marker is missing."""
    p = Path(path)
    old = p.read_text(encoding="utf-8")
    i, j = old.find(START), old.find(END)
    if i < 0 or j < i:
        return False
    new = old[:i + len(START)] + "\n" + text.strip("\n") + "\n" + old[j:]
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, p)
    return True
