"""What loading a run asks of memory, checked from its description before anything is built:
the weights (twice: the model and the copy read from the archive) and one sample's forward
pass, from the layers' records (``check_load_memory``); and, for a large model, that the
archive's headers hold as many numbers as the architecture needs (``check_counts``), so a
mismatched weights.npz never costs the allocation of the model it cannot fill.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from ..errors import CheckpointError
from ..nn.architecture import count_numbers, leaves
from ..nn.layer_costs import FLOAT
from ..nn.step_memory import eval_bytes_per_sample
from . import memory

OPTIONAL_SUFFIX = "num_batches_tracked"   # a batch counter a state may lack (as in PyTorch)
#: What loading a run may ask of memory when the free memory cannot be read.
MAX_LOAD_BYTES = 16 << 30
#: A model this small is built before its weights are compared key by key; a larger one only
#: once the archive holds as many numbers as it needs.
SMALL_MODEL_BYTES = 16 << 20


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{max(1, round(n / 2**20))} MiB"


def check_load_memory(arch: dict[str, Any], shape: tuple[int, ...]) -> int:
    """Bytes one sample costs a forward pass of the described model (its input included);
    CheckpointError, in one line, when the model's weights (and a copy of them, read from
    the archive) and a batch of one would not fit in the memory available (or, when that
    cannot be read, in ``MAX_LOAD_BYTES``). Nothing is allocated."""
    params, buffers = count_numbers(arch)
    weights = 2 * FLOAT * (params + buffers)
    per_sample = eval_bytes_per_sample(arch, shape) + FLOAT * math.prod(shape)
    available = memory.available_memory()
    cap = MAX_LOAD_BYTES if available is None else available
    if weights + per_sample > cap:
        where = "available" if available is not None else "allowed for one run"
        raise CheckpointError(f"the model needs about {_size(weights)} of memory for its "
                              f"weights and {_size(per_sample)} per sample to evaluate, "
                              f"more than the {_size(cap)} {where}")
    return per_sample


def check_counts(members: Mapping[str, Any], arch: dict[str, Any], path: Path) -> None:
    """CheckpointError when the model the architecture describes is large (over
    ``SMALL_MODEL_BYTES``) and the archive's headers hold fewer numbers than it needs (an
    optional batch counter of one value per layer may be absent): building it would be an
    allocation the file cannot fill, so it is refused first. Smaller mismatches are named
    key by key once the model is built (``weight_problems``)."""
    params, buffers = count_numbers(arch)
    need = params + buffers
    if FLOAT * need <= SMALL_MODEL_BYTES:
        return
    got = sum(math.prod(m.shape) for k, m in members.items()
              if not k.endswith(OPTIONAL_SUFFIX))
    if got < need - len(leaves(arch)):
        raise CheckpointError(f"{path}: does not match the model: it holds {got:,} numbers, "
                              f"the architecture in config.json needs {need:,}")


__all__ = ["MAX_LOAD_BYTES", "SMALL_MODEL_BYTES", "check_counts", "check_load_memory"]
