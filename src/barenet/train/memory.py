"""Will a training fit in memory? An estimate from the architecture, checked before anything.

``step_bytes_per_sample`` follows one sample's shape through the layers (as
``nn/architecture_shapes.output_shape`` does) and adds up, per layer, what a training step keeps
and what it needs for a moment, read from the layers' code: the caches forward keeps for
backward (ReLU masks, dropout masks, batch-norm's normalised input, pooling's winner maps, the
inputs Linear and Flatten hold), the work arrays a convolution keeps between steps (its im2col
matrix, and one output row of the column gradient of every convolution but the first, which is
made a block of rows at a time), and the largest set of arrays alive at once inside one layer's
forward or backward. ``training_bytes`` scales that by the batch size and adds the block of
column gradients (``step_fixed_bytes``), the parameters with their gradients, optimizer state,
best-weights copy and checkpoint buffers, the dataset (its counts and image size read from its
``DatasetSpec``), and the evaluation batches. ``check_memory`` compares it with
``available_memory`` (MemAvailable in /proc/meminfo, or the cgroup's limit less its usage,
whichever is smaller) and refuses, in one line, a batch size that will not fit, naming one
that does. tests/train/test_memory.py holds the estimate against what NumPy really allocates.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from ..nn.layer_record import FLOAT
from ..nn.step_memory import eval_bytes_per_sample, step_bytes_per_sample, step_fixed_bytes

EVAL_BATCH = 1000              # evaluate.py's batch
UNLIMITED = 1 << 60            # a cgroup "limit" at least this large means none
MAX_READ = 1 << 16             # bytes read from any /proc or /sys file

#: Per-parameter copies besides the weights themselves: gradient, best weights, and the
#: checkpoint's state_dict copies and .npz buffers; plus, per optimizer, its state arrays.
PARAM_COPIES = 7
OPTIMIZER_STATE = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}


def dataset_counts(dataset: Any) -> tuple[int, int, int]:
    """(training images, test images, pixels per image) of ``dataset`` (a name, a folder or a
    DatasetSpec), from its spec: (60000, 10000, 784) for MNIST."""
    from ..data.folder import dataset_spec

    spec = dataset_spec(dataset)
    return spec.train_count, spec.test_count, spec.channels * math.prod(spec.image_size)


def _budget(cfg: dict[str, Any]) -> tuple[int, int, int]:
    """(bytes that do not depend on the batch size, bytes per sample of a batch, the largest
    batch the training set allows) for the resolved config ``cfg``."""
    from ..models import architecture_of, build_model, input_shape

    arch, shape = architecture_of(cfg["spec"]), input_shape(cfg["spec"])
    total_train, total_test, pixels = dataset_counts(cfg.get("dataset", "mnist"))
    n_train = min(cfg.get("limit_train") or total_train, total_train)
    n_test = min(cfg.get("limit_test") or total_test, total_test)
    n_params = sum(p.data.size for p in build_model(cfg["spec"], rng=0).parameters())
    copies = PARAM_COPIES + 3 * OPTIMIZER_STATE.get(cfg.get("optimizer", "adam"), 2)
    fixed = FLOAT * n_params * (1 + copies)
    data = 2 * pixels * (total_train + total_test)      # the images, and their decoding
    evaluation = min(EVAL_BATCH, max(n_test, n_train)) * (
        eval_bytes_per_sample(arch, shape) + pixels * (1 + FLOAT))
    per_input = pixels * (2 + 2 * FLOAT) if cfg.get("augment") else pixels * (1 + FLOAT)
    return (fixed + data + evaluation + step_fixed_bytes(arch, shape),
            step_bytes_per_sample(arch, shape) + per_input, n_train)


def training_bytes(cfg: dict[str, Any]) -> int:
    """Estimated peak memory (bytes) of training with the resolved config ``cfg``."""
    base, per_sample, n_train = _budget(cfg)
    return base + per_sample * min(int(cfg["batch_size"]), n_train)


def _read(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_READ).decode("ascii", "replace")
    except OSError:
        return None


def _int_file(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None   # "max": no limit


def _cgroup_dirs() -> list[Path]:
    """This process's memory cgroup directories (v2 and v1), those that exist."""
    text = _read(Path("/proc/self/cgroup")) or ""
    root = Path("/sys/fs/cgroup")
    found = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":
            found += [root / rel.lstrip("/"), root]
        elif "memory" in controllers.split(","):
            found += [root / "memory" / rel.lstrip("/"), root / "memory"]
    return [d for d in dict.fromkeys(found) if d.is_dir()]


def available_memory(meminfo: str | Path = "/proc/meminfo",
                     cgroup_dirs: Sequence[Path] | None = None) -> int | None:
    """Bytes this process may still allocate: the smaller of MemAvailable and, for each
    memory cgroup with a limit, the limit less the usage. None when nothing can be read."""
    found = []
    for line in (_read(Path(meminfo)) or "").splitlines():
        if line.startswith("MemAvailable:"):
            fields = line.split()
            if len(fields) >= 2 and fields[1].isdigit():
                found.append(int(fields[1]) * 1024)
    for d in _cgroup_dirs() if cgroup_dirs is None else cgroup_dirs:
        for limit_name, usage_name in (("memory.max", "memory.current"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes")):
            limit, usage = _int_file(Path(d) / limit_name), _int_file(Path(d) / usage_name)
            if limit is not None and usage is not None and limit < UNLIMITED:
                found.append(max(0, limit - usage))
    return min(found) if found else None


def _size(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{max(1, round(n / 1e6))} MB"


def check_memory(cfg: dict[str, Any]) -> None:
    """ConfigError, in one line naming a batch size that fits, if training with the resolved
    ``cfg`` would need more memory than is available. Does nothing when that is unknown."""
    available = available_memory()
    if available is None:
        return
    base, per_sample, n_train = _budget(cfg)
    need = base + per_sample * min(int(cfg["batch_size"]), n_train)
    if need <= available:
        return
    name = cfg["spec"]["name"]
    largest = (available - base) // per_sample   # the largest batch that fits
    if largest < 1:
        raise ConfigError(f"not enough memory to train {name}: even --batch-size 1 needs about "
                          f"{_size(base + per_sample)}, and {_size(available)} is available")
    suggest = 1 << (int(largest).bit_length() - 1)   # a power of two, for round numbers
    raise ConfigError(f"--batch-size {cfg['batch_size']}: training {name} needs about "
                      f"{_size(need)} of memory, but {_size(available)} is available; use "
                      f"--batch-size {suggest} or less")


__all__ = ["available_memory", "check_memory", "dataset_counts", "eval_bytes_per_sample",
           "step_bytes_per_sample", "training_bytes"]
