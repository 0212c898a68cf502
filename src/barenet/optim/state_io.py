"""An optimizer's state_dict stored without pickle: NumPy arrays for an ``.npz`` and a
JSON-able rest (``flatten_state``), and back (``unflatten_state``)."""
from __future__ import annotations

from typing import Any

import numpy as np

StateDict = dict[str, Any]
FORMAT_VERSION = 1


def _json_scalar(value: Any, where: str) -> Any:
    """A JSON-able copy of a hyper-parameter or scalar state value."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_json_scalar(v, where) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{where}: cannot store a {type(value).__name__} in JSON")


def flatten_state(state_dict: StateDict) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split an optimizer state_dict into ``(arrays, meta)``: arrays for ``np.savez`` under keys
    ``"state.<index>.<name>"``, and a JSON-able ``meta`` holding everything else."""
    arrays: dict[str, np.ndarray] = {}
    state_meta: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        out: dict[str, Any] = {}
        for name, value in entry.items():
            if isinstance(value, np.ndarray):
                key = f"state.{int(index)}.{name}"
                arrays[key] = value
                out[name] = {"array": key}
            else:
                out[name] = _json_scalar(value, f"state {index} {name!r}")
        state_meta[str(int(index))] = out
    groups = [{k: _json_scalar(v, f"param_groups {k!r}") for k, v in g.items()}
              for g in state_dict["param_groups"]]
    meta = {"format_version": FORMAT_VERSION, "state": state_meta, "param_groups": groups}
    return arrays, meta


def unflatten_state(arrays: Any, meta: dict[str, Any]) -> StateDict:
    """Inverse of ``flatten_state``: ``arrays`` is any mapping (a dict, an ``NpzFile``)."""
    if not isinstance(meta, dict) or not {"state", "param_groups"} <= set(meta):
        raise ValueError("optimizer state meta: expected a dict with 'state' and 'param_groups'")
    version = meta.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise ValueError(f"optimizer state meta: format_version {version!r}, expected "
                         f"{FORMAT_VERSION}")
    state: dict[int, dict[str, Any]] = {}
    for index, entry in meta["state"].items():
        out: dict[str, Any] = {}
        for name, value in entry.items():
            if isinstance(value, dict):
                key = value.get("array")
                if key not in arrays:
                    raise ValueError(f"optimizer state: array {key!r} for parameter {index} "
                                     f"{name!r} is missing")
                out[name] = np.array(arrays[key], copy=True)
            else:
                out[name] = value
        state[int(index)] = out
    groups = []
    for g in meta["param_groups"]:
        groups.append({k: (tuple(v) if isinstance(v, list) and k != "params" else v)
                       for k, v in g.items()})
    return {"state": state, "param_groups": groups}


__all__ = ["FORMAT_VERSION", "flatten_state", "unflatten_state"]
