"""``import_weights``: a run directory from weights trained elsewhere, read from .safetensors.

The model is a preset (``model="cnn"``), an architecture (the JSON ``save_run`` writes), or,
when neither is given, the architecture in the file's own metadata (a file ``barenet export``
wrote: ``EXPORT_KEYS``), read as untrusted input. Before a tensor is read, the header is
compared with the model: every name, shape and kind must fit (missing, unexpected and
mismatched names listed in one line). Floating tensors (F16, BF16, F32, F64) become float32,
as barenet computes (F64 is rounded); BatchNorm's ``num_batches_tracked`` is optional both
ways, as in PyTorch. The run is then written by ``save_run``: config.json records the
dataset's normalisation, ``(pixel / 255 - mean) / std``, the one barenet's training uses, so
the weights must come from a model trained on inputs prepared that way. The run has no
training history; ``evaluate``, ``predict``, ``explain``, ``attack`` and ``serve`` use it as
any other.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data.specs import DatasetSpec, get_spec
from ..data.transforms import Normalize
from ..errors import BarenetError, CheckpointError, ConfigError, brief
from ..io import SafetensorsError, SafetensorsFile, TensorInfo
from ..models import architecture_of, resolve_spec
from ..models import input_shape as preset_input
from ..models.checks import DATA_KEYS
from ..nn.architecture import ArchitectureError, build, validate
from ..nn.architecture_shapes import infer_input_shape, output_shape
from ..nn.module import Module
from .claim import claim_dir
from .fileio import name_list, quoted
from .load_checks import OPTIONAL_SUFFIX, check_counts, check_load_memory
from .outputs import RUN_FILES, check_output, remove_ours
from .save import save_run

#: The version of the metadata keys ``barenet export`` writes (``EXPORT_KEYS``).
EXPORT_VERSION = 1
#: The metadata keys a barenet export writes (``export/safetensors_export.py``).
EXPORT_KEYS = ("format", "barenet_version", "barenet_export", "model", "architecture",
               "input_shape", "dataset", "classes", "preprocessing", "test_accuracy")
FLOATS = ("F16", "BF16", "F32", "F64")
INTEGERS = ("U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64")
MAX_PROBLEMS = 5


@dataclass(frozen=True)
class Imported:
    """What ``import_weights`` wrote: the run directory, how many tensors and numbers it
    took from the file, the dataset and where the architecture came from."""

    run_dir: Path
    tensors: int
    numbers: int
    dataset: str
    architecture_from: str
    ignored: tuple[str, ...]


def preset_architecture(name: str, dataset: DatasetSpec) -> tuple[dict[str, Any], tuple]:
    """(architecture, input shape) of the preset ``name`` fitted to ``dataset``'s classes
    and image size; ConfigError for an unknown name."""
    facts = {k: v for k, v in dataset.input_facts.items() if v != DATA_KEYS[k]}
    spec = resolve_spec({"name": name, **facts})
    return architecture_of(spec), preset_input(spec)


def barenet_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    """The metadata of a file ``barenet export`` wrote (it names ``barenet_export``); {} for
    any other file, whose keys mean nothing to barenet."""
    return dict(metadata) if metadata and "barenet_export" in metadata else {}


def exported_architecture(meta: dict[str, str], where: Path
                          ) -> tuple[dict[str, Any], tuple | None]:
    """(architecture, input shape or None) from the metadata of a file ``barenet export``
    wrote (``barenet_metadata``); every value is checked (the file is untrusted).
    CheckpointError naming the file when it has none or they do not hold."""
    if "architecture" not in meta:
        raise CheckpointError(f"{where}: its metadata does not describe the model (it was not "
                              "written by barenet export); pass --model NAME or "
                              "--architecture FILE.json")
    version = meta["barenet_export"]
    if not version.isdigit() or len(version) > 6 or int(version) > EXPORT_VERSION:
        raise CheckpointError(f"{where}: metadata barenet_export {quoted(version, 20)}: made by "
                              f"a newer barenet (this one reads {EXPORT_VERSION}); upgrade "
                              "barenet, or pass --model NAME or --architecture FILE.json")
    arch = _json(meta, "architecture", where)
    try:
        arch = validate(arch)
    except ArchitectureError as exc:
        raise CheckpointError(f"{where}: metadata 'architecture': {brief(exc)}") from None
    shape = _json(meta, "input_shape", where) if "input_shape" in meta else None
    if shape is not None and not (isinstance(shape, list) and 1 <= len(shape) <= 4 and all(
            isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 1 << 16 for d in shape)):
        raise CheckpointError(f"{where}: metadata 'input_shape' is {quoted(shape, 40)}, "
                              "expected a list of 1 to 4 positive integers")
    return arch, None if shape is None else tuple(shape)


def _json(meta: dict[str, str], key: str, where: Path) -> Any:
    try:
        return json.loads(meta[key])
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{where}: metadata {key!r} is not JSON ({brief(exc, 80)})") \
            from None


def check_preprocessing(metadata: dict[str, str], dataset: DatasetSpec, where: Path) -> None:
    """CheckpointError if a barenet export's metadata records a normalisation other than the
    one barenet's training uses for ``dataset`` (the run would see other input)."""
    if "preprocessing" not in metadata:
        return
    try:
        said = Normalize.from_dict(_json(metadata, "preprocessing", where))
    except ConfigError as exc:
        raise CheckpointError(f"{where}: metadata {exc}") from None
    if not (math.isclose(said.mean, dataset.mean) and math.isclose(said.std, dataset.std)):
        raise CheckpointError(f"{where}: its model takes (pixel / 255 - {said.mean:g}) / "
                              f"{said.std:g}, but barenet prepares {dataset.name} as (pixel / "
                              f"255 - {dataset.mean:g}) / {dataset.std:g}")


def header_problems(tensors: dict[str, TensorInfo], model: Module) -> list[str]:
    """Every mismatch between a file's header and ``model``'s state_dict, found before a
    tensor is read: missing and unexpected names (a batch counter is optional both ways),
    shapes, and kinds (floating for parameters and statistics, integer for counters)."""
    own = model.state_dict()
    missing = [k for k in own if k not in tensors and not k.endswith(OPTIONAL_SUFFIX)]
    unexpected = [k for k in tensors if k not in own and not k.endswith(OPTIONAL_SUFFIX)]
    problems = [name_list(what, names) for what, names in
                (("missing", missing), ("unexpected", unexpected)) if names]
    for k, want in own.items():
        got = tensors.get(k)
        if got is None or len(problems) >= MAX_PROBLEMS:
            continue
        kinds = FLOATS if want.dtype.kind == "f" else INTEGERS
        if got.shape != want.shape:
            problems.append(f"{brief(k, 60)} has shape {list(got.shape)}, expected "
                            f"{list(want.shape)}")
        elif got.dtype not in kinds:
            problems.append(f"{brief(k, 60)} is {got.dtype}, expected one of {', '.join(kinds)}")
    return problems[:MAX_PROBLEMS] + (["..."] if len(problems) > MAX_PROBLEMS else [])


def _fitted_shape(arch: dict[str, Any], given: tuple | None, dataset: DatasetSpec,
                  where: str) -> tuple[int, ...]:
    """The input the model takes, which must be the dataset's images, and one score per class
    out; ConfigError naming ``where`` (the architecture's source) otherwise."""
    side = dataset.image_size
    allowed = [(side[0] * side[1],), (1, *side)]
    try:
        shape = tuple(given) if given is not None else infer_input_shape(arch, side)
        if shape not in allowed:
            raise ArchitectureError(f"the model takes input {shape and list(shape)}, but "
                                    f"{dataset.name}'s images give "
                                    f"{' or '.join(str(list(s)) for s in allowed)}")
        out = output_shape(arch, shape)
    except ArchitectureError as exc:
        raise ConfigError(f"{where}: {brief(exc)}") from None
    if out != (dataset.num_classes,):
        raise ConfigError(f"{where}: the model outputs {list(out)} per sample, {dataset.name} "
                          f"has {dataset.num_classes} classes (one score each)")
    return shape


def import_weights(weights: str | os.PathLike, run_dir: str | os.PathLike,
                   model: str | None = None, architecture: dict[str, Any] | None = None,
                   input_shape: tuple[int, ...] | None = None, dataset: str | None = None,
                   overwrite: bool = False, architecture_from: str | None = None) -> Imported:
    """Make the run directory ``run_dir`` from the .safetensors file ``weights``.

    The model: the preset ``model``, else ``architecture`` (with ``input_shape``, read from
    the first layers if None), else the architecture in the file's metadata. ``dataset``: a
    built-in dataset (default: the one the metadata names, else mnist); its normalisation,
    classes and image size are the run's. ``run_dir`` must be absent or empty unless
    ``overwrite`` (which replaces only a run's own files). Raises SafetensorsError or
    CheckpointError for a file that is malformed or does not fit the model, ConfigError for
    a model, dataset or output that is wrong; nothing is written unless everything fits.
    """
    if model is not None and architecture is not None:
        raise ConfigError("give the model as a preset name or as an architecture, not both")
    out = check_output(run_dir, RUN_FILES, overwrite, "a run")
    path = Path(weights)
    with SafetensorsFile(path) as f:
        ours = barenet_metadata(f.metadata)
        spec = _dataset(dataset, ours.get("dataset"), path)
        if model is not None:
            arch, shape = preset_architecture(model, spec)
            source = architecture_from or f"the preset {model}"
        elif architecture is not None:
            source = architecture_from or "the architecture given"
            try:
                arch, shape = validate(architecture), input_shape
            except ArchitectureError as exc:
                raise ConfigError(f"{source}: {brief(exc)}") from None
        else:
            arch, shape = exported_architecture(ours, path)
            source = architecture_from or "the file's metadata"
        check_preprocessing(ours, spec, path)
        shape = _fitted_shape(arch, shape, spec, source)
        built, arrays, ignored = _load(f, arch, shape)
    with claim_dir(out):
        check_output(out, RUN_FILES, overwrite, "a run", claimed=True)
        if overwrite:
            remove_ours(out, RUN_FILES)
        extra = {"imported": {"file": str(path.resolve()), "bytes": f.size,
                              "architecture_from": source}}
        save_run(out, built, dataset=spec.name, input_shape=shape, extra=extra, overwrite=True)
    return Imported(out, len(arrays), sum(a.size for a in arrays.values()), spec.name, source,
                    tuple(ignored))


def _dataset(given: str | None, named: Any, path: Path) -> DatasetSpec:
    """--dataset, else the dataset the file's metadata names (which must be built in)."""
    if given is not None or named is None:
        return get_spec(given or "mnist")
    try:
        return get_spec(named)
    except ConfigError:
        raise CheckpointError(f"{path}: its metadata names the dataset {quoted(named, 40)}, "
                              "which is not built into barenet; pass --dataset") from None


def _load(f: SafetensorsFile, arch: dict[str, Any], shape: tuple[int, ...]
          ) -> tuple[Module, dict[str, np.ndarray], list[str]]:
    """The model built from ``arch`` with the file's tensors in it, after checking what it
    costs and the header against it; (model, the arrays loaded, the names ignored)."""
    try:
        check_load_memory(arch, shape)
        check_counts(f.tensors, arch, f.path)
        model = build(arch, rng=0)
    except (BarenetError, ArchitectureError) as exc:
        raise CheckpointError(f"{f.path}: {brief(exc)}") from None
    problems = header_problems(f.tensors, model)
    if problems:
        raise CheckpointError(brief(f"{f.path}: does not match the model: "
                                    + "; ".join(problems), 400))
    own = model.state_dict()
    names = [k for k in f.tensors if k in own]
    with np.errstate(over="ignore"):       # an F64 beyond float32 is refused just below
        arrays = {k: v.astype(np.float32 if own[k].dtype.kind == "f" else own[k].dtype)
                  for k, v in f.read(names).items()}
    bad = next((k for k, v in arrays.items() if v.dtype.kind == "f"
                and not np.all(np.isfinite(v))), None)
    if bad is not None:
        raise SafetensorsError(f"{f.path}: tensor {quoted(bad, 60)} holds NaN or infinite "
                               "values (as float32)")
    model.load_state_dict(arrays)
    model.eval()
    return model, arrays, [k for k in f.tensors if k not in own]


__all__ = ["EXPORT_KEYS", "EXPORT_VERSION", "Imported", "barenet_metadata",
           "check_preprocessing", "exported_architecture", "header_problems", "import_weights", "preset_architecture"]
