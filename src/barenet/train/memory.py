"""Will a training fit in memory? An estimate from the architecture, checked before anything.

``step_bytes_per_sample`` follows one sample's shape through the layers (as
``nn/architecture_shapes.output_shape`` does) and adds up, per layer, what a training step keeps
and what it needs for a moment, read from the layers' code: the caches forward keeps for
backward (ReLU masks, dropout masks, batch-norm's normalised input, pooling's winner maps, the
inputs Linear and Flatten hold), the work arrays a convolution keeps between steps (its im2col
matrix, and one output row of the column gradient of every convolution but the first, which is
made a block of rows at a time), and the largest set of arrays alive at once inside one layer's
forward or backward. ``training_bytes`` scales that by the batch size and adds the block of
column gradients (``step_fixed_bytes``), the parameters with their gradients, optimizer state, best-weights copy and checkpoint buffers, the dataset,
and the evaluation batches. ``check_memory`` compares it with ``available_memory`` (MemAvailable
in /proc/meminfo, or the cgroup's limit less its usage, whichever is smaller) and refuses, in
one line, a batch size that will not fit, naming one that does. tests/train/test_memory.py holds
the estimate against what NumPy really allocates.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from ..errors import ConfigError
from ..nn.architecture import leaves
from ..nn.architecture_shapes import SEQUENCE_LAYERS, _sequence_shape
from ..nn.kernels.conv2d import DCOLS_BLOCK_BYTES

FLOAT = 4                      # bytes of a float32
TRAIN_IMAGES, TEST_IMAGES = 60_000, 10_000   # both datasets' sizes (checked by checksum)
PIXELS = 28 * 28
EVAL_BATCH = 1000              # evaluate.py's batch
UNLIMITED = 1 << 60            # a cgroup "limit" at least this large means none
MAX_READ = 1 << 16             # bytes read from any /proc or /sys file

#: Per-parameter copies besides the weights themselves: gradient, best weights, and the
#: checkpoint's state_dict copies and .npz buffers; plus, per optimizer, its state arrays.
PARAM_COPIES = 7
OPTIMIZER_STATE = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}
#: Arrays of (T, hidden) a recurrent layer keeps per direction and layer for backpropagation
#: through time (inputs, gates, states, their nonlinearities), measured with tracemalloc.
RECURRENT_ARRAYS = {"RNN": 1.5, "GRU": 7.5, "LSTM": 10.5}


def _conv_sizes(shape: tuple[int, ...], a: dict[str, Any]) -> tuple[int, int, int]:
    """(padded input values, output positions Ho*Wo, window size C*kH*kW) of a conv/pool."""
    c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = a["kernel_size"], a["stride"], a["padding"]
    hp, wp = h + 2 * ph, w + 2 * pw
    positions = ((hp - kh) // sh + 1) * ((wp - kw) // sw + 1)
    return c * hp * wp, positions, c * kh * kw


def _out_shape(t: str, a: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, ...]:
    if t == "Linear":
        return (a["out_features"],)
    if t in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        c, h, w = shape
        (kh, kw), (sh, sw), (ph, pw) = a["kernel_size"], a["stride"], a["padding"]
        return (a.get("out_channels", c), (h + 2 * ph - kh) // sh + 1,
                (w + 2 * pw - kw) // sw + 1)
    if t == "Flatten":
        full = (1, *shape)
        nd = len(full)
        s, e = [d + nd if d < 0 else d for d in (a["start_dim"], a["end_dim"])]
        return (full[:s] + (math.prod(full[s:e + 1]),) + full[e + 1:])[1:]
    if t in SEQUENCE_LAYERS:
        return _sequence_shape(t, a, shape)[1]
    return shape


def _sequence_cache(t: str, a: dict[str, Any], shape: tuple[int, ...],
                    out: tuple[int, ...]) -> int:
    """Values per sample that a layer of sequences keeps from forward to backward."""
    if t in RECURRENT_ARRAYS:
        steps, directions = shape[0], 1 + a["bidirectional"]
        return int(RECURRENT_ARRAYS[t] * steps * a["hidden_size"] * directions * a["num_layers"])
    if t in ("MultiheadAttention", "TransformerEncoderLayer"):
        steps, e = shape
        heads = a.get("num_heads", a.get("nhead"))
        attention = 9 * steps * e // 2 + 3 * heads * steps * steps
        if t == "MultiheadAttention":
            return attention
        return attention + 3 * steps * e + 3 * steps * a["dim_feedforward"]
    if t == "PatchEmbedding":
        return math.prod(shape) + math.prod(out)
    return math.prod(shape)          # LayerNorm, Embedding, SelectStep, MeanOverTime


def _layer_bytes(t: str, a: dict[str, Any], shape: tuple[int, ...], out: tuple[int, ...],
                 first: bool) -> tuple[int, int, int, bool]:
    """Per sample, in bytes: (cache kept from forward to the next step, work arrays kept,
    the most alive at once inside its forward or backward, whether it keeps its input)."""
    n_in, n_out = math.prod(shape), math.prod(out)
    x, y = FLOAT * n_in, FLOAT * n_out
    if t == "Linear":
        return 0, 0, max(y, y + (0 if first else x)), True
    if t in ("ReLU", "LeakyReLU"):
        extra = x if t == "LeakyReLU" else 0
        return n_in, 0, n_in + y + extra + y, False
    if t in ("Sigmoid", "Tanh", "Softmax"):
        return y, 0, 3 * y, False
    if t == "Dropout":
        return x, 0, 2 * x + n_in + y, False
    if t.startswith("BatchNorm"):
        return x, 0, 4 * x, False
    if t == "Conv2d":
        padded, positions, k = _conv_sizes(shape, a)
        cols = FLOAT * (k + 1) * positions
        # dL/dcols is made a block of output rows at a time (kernels/conv2d.py): a fixed
        # number of bytes, of which one output row grows with the batch
        dcols = 0 if first else FLOAT * k * (positions // out[1])
        forward = FLOAT * padded + y
        backward = 2 * y + (0 if first else 2 * FLOAT * padded + x)
        return 0, cols + dcols, max(forward, backward), False
    if t == "MaxPool2d":
        padded, positions, k = _conv_sizes(shape, a)
        masks = n_in // 2 + n_out
        return masks, 0, FLOAT * padded + 2 * y + x, False
    if t == "AvgPool2d":
        padded, _, _ = _conv_sizes(shape, a)
        return 0, 0, FLOAT * padded + 2 * y + x, False
    if t == "Flatten":
        return 0, 0, 2 * y, True
    if t == "GELU":
        return 2 * x, 0, 4 * x, False
    if t in SEQUENCE_LAYERS:
        cache = FLOAT * _sequence_cache(t, a, shape, out)
        return cache, 0, x + y, False
    return 0, 0, y, False   # Identity


def step_bytes_per_sample(architecture: dict[str, Any], input_shape: Sequence[int]) -> int:
    """Bytes one more sample in the batch costs a training step (forward, loss, backward)
    of a validated ``architecture`` taking ``input_shape`` per sample; the input batch itself
    is not counted."""
    shape = tuple(input_shape)
    kept = work = peak = 0
    layers = list(leaves(architecture))
    for i, (_, d) in enumerate(layers):
        t, a = d["type"], d["args"]
        out = _out_shape(t, a, shape)
        cache, ws, moment, keeps_input = _layer_bytes(t, a, shape, out, first=i == 0)
        kept += cache + (FLOAT * math.prod(shape) if keeps_input and i > 0 else 0)
        work += ws
        peak = max(peak, moment + cache)   # the new cache exists beside the old one a moment
        shape = out
    logits = FLOAT * math.prod(shape)
    return kept + work + peak + 4 * logits   # logits, softmax, its gradient, argmax


def step_fixed_bytes(architecture: dict[str, Any]) -> int:
    """Bytes of a training step that do not grow with the batch: the block of dL/dcols that
    every convolution but a first layer's makes at a time (at most ``DCOLS_BLOCK_BYTES``)."""
    types = [d["type"] for _, d in leaves(architecture)]
    return DCOLS_BLOCK_BYTES * sum(t == "Conv2d" for t in types[1:])


def eval_bytes_per_sample(architecture: dict[str, Any], input_shape: Sequence[int]) -> int:
    """Bytes one more sample costs a forward pass in eval mode (conv work arrays are fresh
    each batch, nothing is kept for backward)."""
    shape = tuple(input_shape)
    peak = 0
    for _, d in leaves(architecture):
        t, a = d["type"], d["args"]
        out = _out_shape(t, a, shape)
        moment = FLOAT * (math.prod(shape) + math.prod(out))
        if t in ("Conv2d", "MaxPool2d", "AvgPool2d"):
            padded, positions, k = _conv_sizes(shape, a)
            moment += FLOAT * padded + (FLOAT * (k + 1) * positions if t == "Conv2d" else 0)
        peak = max(peak, moment)
        shape = out
    return peak


def _budget(cfg: dict[str, Any]) -> tuple[int, int, int]:
    """(bytes that do not depend on the batch size, bytes per sample of a batch, the largest
    batch the training set allows) for the resolved config ``cfg``."""
    from ..models import architecture_of, build_model, input_shape

    arch, shape = architecture_of(cfg["spec"]), input_shape(cfg["spec"])
    n_train = min(cfg.get("limit_train") or TRAIN_IMAGES, TRAIN_IMAGES)
    n_test = min(cfg.get("limit_test") or TEST_IMAGES, TEST_IMAGES)
    n_params = sum(p.data.size for p in build_model(cfg["spec"], rng=0).parameters())
    copies = PARAM_COPIES + 3 * OPTIMIZER_STATE.get(cfg.get("optimizer", "adam"), 2)
    fixed = FLOAT * n_params * (1 + copies)
    data = 2 * PIXELS * (TRAIN_IMAGES + TEST_IMAGES)      # the images, and their decoding
    evaluation = min(EVAL_BATCH, max(n_test, n_train)) * (
        eval_bytes_per_sample(arch, shape) + PIXELS * (1 + FLOAT))
    per_input = PIXELS * (2 + 2 * FLOAT) if cfg.get("augment") else PIXELS * (1 + FLOAT)
    return (fixed + data + evaluation + step_fixed_bytes(arch),
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


__all__ = ["available_memory", "check_memory", "eval_bytes_per_sample", "step_bytes_per_sample",
           "training_bytes"]
