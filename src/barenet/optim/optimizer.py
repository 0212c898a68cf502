"""Optimizer base class: parameter groups, per-parameter state, and a pickle-free state_dict.

An optimizer holds ``param_groups`` shaped like PyTorch's: a list of dicts, each with a
``"params"`` list of :class:`~barenet.nn.Parameter` and that group's hyper-parameters (``"lr"``,
...), plus any other keys a user or a scheduler keeps there (``"initial_lr"``, ...).
``state[p]`` holds the per-parameter buffers (moments, step counts). Subclasses implement
``_update(group)``, which changes every ``p.data`` of the group in place: the textbook rule,
or its in-place kernel from ``kernels.py`` while ``kernels.enabled()``.

``state_dict()`` follows PyTorch's nesting, with parameters replaced by their position::

    {"state": {0: {"step": 3, "exp_avg": ndarray, ...}, ...},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1, 2]}]}

``state_io.py`` stores it without pickle: ``flatten_state`` splits it into NumPy arrays (for an
``.npz``) and a JSON-able dict; ``unflatten_state`` puts it back together.
"""
from __future__ import annotations

import difflib
import math
import numbers
from typing import Any, Callable, Iterable

import numpy as np

from ..nn.module import Parameter
from .kernels import Scratch

StateDict = dict[str, Any]


class Optimizer:
    """Base class: groups of parameters, their hyper-parameters, and per-parameter state.

    Args:
        params: an iterable of Parameters, or of dicts ``{"params": [...], "lr": ...}`` (groups
            whose missing hyper-parameters come from ``defaults``).
        defaults: every hyper-parameter of the optimizer and its default value.
    """

    #: names a state entry must hold; every other name must be in ``_optional_state``
    _required_state: frozenset[str] = frozenset()
    _optional_state: frozenset[str] = frozenset()

    def __init__(self, params: Iterable[Parameter] | Iterable[dict[str, Any]],
                 defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Parameter, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        self._scratch = Scratch()  # the kernels' work arrays
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(f"{self._name}: params must be an iterable of Parameters, "
                            f"got a single {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # -- groups and hyper-parameters -----------------------------------------------------------
    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group ``{"params": [...], **hyper-parameters}``; missing ones take defaults.

        As in PyTorch, other keys are kept as given (a name, a scheduler's ``"initial_lr"``),
        except a near-miss of a hyper-parameter's name (``"momentun"``): a ValueError.
        """
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{self._name}: a parameter group must be a dict with a 'params' key")
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{self._name}: params[{i}] is a {type(p).__name__}, "
                                "expected a barenet.nn.Parameter")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{self._name}: a parameter appears twice in one group")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{self._name}: some parameters appear in more than one group")
        for key in sorted(set(group) - set(self.defaults) - {"params"}):
            near = difflib.get_close_matches(key, self.defaults, n=1, cutoff=0.85)
            if near:
                raise ValueError(f"{self._name}: unknown hyper-parameter {key!r} (did you mean "
                                 f"{near[0]!r}?), expected one of {sorted(self.defaults)}")
        new = {k: v for k, v in group.items() if k != "params"}
        for key, value in self.defaults.items():
            new.setdefault(key, value)
        new["params"] = params
        self._check_group(new)
        self.param_groups.append(new)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError when a hyper-parameter of ``group`` is out of range."""

    def _check_range(self, name: str, value: float, low: float, high: float | None = None,
                     high_open: bool = True) -> None:
        """Raise ValueError unless ``low <= value`` (and ``value < high``, or ``<=``)."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self._name}: invalid {name} {value!r}, expected a number")
        ok = value >= low and (high is None or (value < high if high_open else value <= high))
        if not ok:
            want = f">= {low}" if high is None else f"in [{low}, {high}{')' if high_open else ']'}"
            raise ValueError(f"{self._name}: invalid {name} {value!r}, expected {want}")

    @property
    def lr(self) -> float:
        """The learning rate of the first group; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self._check_range("lr", value, 0.0)
        for group in self.param_groups:
            group["lr"] = value

    # -- the update -----------------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero (lazily: see ``Parameter.zero_grad``)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad()

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Update every parameter from its ``grad``; returns ``closure()`` if one is given."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            self._update(group)
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        """Update every ``p.data`` of ``group`` in place from ``p.grad`` (None: skipped)."""
        raise NotImplementedError(f"{self._name} does not implement _update")

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        """``group``'s hyper-parameters by name (what a kernel takes), without other keys."""
        return {k: group[k] for k in self.defaults}

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """PyTorch-shaped state with parameters numbered in group order; arrays are copies."""
        state: dict[int, dict[str, Any]] = {}
        groups = []
        index = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                if p in self.state:
                    state[index] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                    for k, v in self.state[p].items()}
                ids.append(index)
                index += 1
            packed["params"] = ids
            groups.append(packed)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore hyper-parameters and state saved by ``state_dict`` (or ``unflatten_state``).

        The state is untrusted: the number of groups and parameters, every hyper-parameter's
        type (that of its default) and finiteness, every state name, step count, array shape
        and value are checked first, and one ValueError names the problem; nothing changes
        unless all fits. Arrays are cast to their parameter's dtype.
        """
        where = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{where}: expected a dict with 'state' and 'param_groups'")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not isinstance(saved_state, dict):
            raise ValueError(f"{where}: expected 'param_groups' to be a list and 'state' a dict")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the state has {len(saved_groups)} parameter groups, "
                             f"the optimizer has {len(self.param_groups)}")
        by_index: dict[int, Parameter] = {}
        new_groups = []
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
                raise ValueError(f"{where}: group {gi} of the state is not a dict with a "
                                 "'params' list")
            ids = list(saved["params"])
            if len(ids) != len(group["params"]):
                raise ValueError(f"{where}: group {gi} of the state has {len(ids)} parameters, "
                                 f"the optimizer's has {len(group['params'])}")
            for i, p in zip(ids, group["params"]):
                if isinstance(i, bool) or not isinstance(i, numbers.Integral) or \
                        int(i) in by_index or not 0 <= i < 1 << 31:
                    raise ValueError(f"{where}: group {gi} has an invalid or repeated "
                                     f"parameter number {_brief(i)}")
                by_index[int(i)] = p
            new = {k: _hyper_value(k, v, self.defaults, f"{where}: group {gi}")
                   for k, v in saved.items() if k != "params"}
            missing = set(self.defaults) - set(new)
            if missing:
                raise ValueError(f"{where}: group {gi} lacks hyper-parameters {sorted(missing)} "
                                 "(is it another optimizer's state?)")
            new["params"] = group["params"]
            self._check_group(new)
            new_groups.append(new)
        new_state: dict[Parameter, dict[str, Any]] = {}
        for raw_index, entry in saved_state.items():
            try:
                index = int(raw_index)
            except (TypeError, ValueError, OverflowError):
                index = -1
            if index not in by_index:
                raise ValueError(f"{where}: state for parameter {_brief(raw_index)}, but the "
                                 f"optimizer has {len(by_index)} parameters")
            p = by_index[index]
            names = set(entry) if isinstance(entry, dict) else set()
            if not isinstance(entry, dict) or not self._required_state <= names or \
                    not names <= self._required_state | self._optional_state:
                raise ValueError(f"{where}: parameter {index} has state "
                                 f"{_brief(sorted(map(str, names)), 200)}, expected "
                                 f"{sorted(self._required_state)} plus optionally "
                                 f"{sorted(self._optional_state)}")
            new_state[p] = {name: _state_value(name, value, p, f"{where}: parameter {index} "
                                                                f"{name!r}")
                            for name, value in entry.items()}
        for group, new in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} params, {hyper}")
        return "\n".join(lines) + "\n)"


def _brief(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _hyper_value(key: str, value: Any, defaults: dict[str, Any], where: str) -> Any:
    """A saved hyper-parameter (or other group key, such as a scheduler's ``initial_lr``),
    checked: a bool where the default is one, finite numbers where it is a number (or a
    tuple of them), and otherwise only JSON scalars, finite. ValueError if not."""
    default = defaults.get(key)
    value = tuple(value) if isinstance(value, list) else value
    items = value if isinstance(value, tuple) else (value,)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, numbers.Real):
        ok = _finite(value)
    elif isinstance(default, tuple):
        ok = isinstance(value, tuple) and len(value) == len(default) and all(map(_finite, value))
    else:
        ok = len(items) <= 16 and all(
            v is None or isinstance(v, bool) or _finite(v) or (isinstance(v, str) and len(v) < 100)
            for v in items)
    if not ok:
        want = ("true or false" if isinstance(default, bool) else
                f"{len(default)} finite numbers" if isinstance(default, tuple) else
                "a finite number" if isinstance(default, numbers.Real) else "a JSON scalar")
        raise ValueError(f"{where}: {_brief(key)} must be {want}, got {_brief(value)}")
    return value


def _finite(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _state_value(name: str, value: Any, p: Parameter, where: str) -> Any:
    """A per-parameter state value, checked: ``step`` an integer >= 0, anything else an array
    of finite numbers shaped like the parameter (copied into its dtype and memory layout)."""
    if name == "step":
        value = value.item() if isinstance(value, (np.ndarray, np.generic)) and \
            np.ndim(value) == 0 else value
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or \
                not 0 <= value <= 1 << 53:
            raise ValueError(f"{where}: expected an integer >= 0, got {_brief(value)}")
        return int(value)
    arr = np.asarray(value) if isinstance(value, (np.ndarray, list)) else None
    if arr is None or arr.dtype.kind not in "fiu":
        got = _brief(value) if arr is None else arr.dtype
        raise ValueError(f"{where}: expected an array of numbers, got {got}")
    if arr.shape != p.data.shape:
        raise ValueError(f"{where}: expected shape {p.data.shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: holds NaN or infinite values")
    out = np.empty_like(p.data)  # the parameter's memory layout
    out[...] = arr
    return out
