"""A model's summary: one row per layer (name, type, output shape, parameters, bytes kept per
sample for backward) and the totals, read from the layers' own records, nothing computed.

    >>> print(model.summary((1, 28, 28)))          # Module.summary
    layer  type       output         params  kept/sample
    0      Conv2d     (32, 28, 28)      320            0
    ...
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .architecture import validate
from .registry import layer_class
from .step_memory import costs_per_layer, kept_bytes, step_bytes_per_sample


@dataclass(frozen=True)
class LayerRow:
    """One layer: its position (as in state_dict keys), type, per-sample output shape,
    parameters, buffer values, and bytes it keeps per sample from forward to backward."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    parameters: int
    buffers: int
    kept_bytes: int


@dataclass(frozen=True)
class Summary:
    """Every layer's row and the totals; ``str()`` is the table, ``to_dict()`` its JSON."""

    input_shape: tuple[int, ...]
    rows: list[LayerRow] = field(default_factory=list)
    step_bytes: int = 0          # what one more sample costs a training step, in all

    @property
    def parameters(self) -> int:
        return sum(r.parameters for r in self.rows)

    @property
    def kept_bytes(self) -> int:
        return sum(r.kept_bytes for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape),
                "layers": [{**asdict(r), "output_shape": list(r.output_shape)} for r in self.rows],
                "parameters": self.parameters,
                "buffers": sum(r.buffers for r in self.rows),
                "kept_bytes_per_sample": self.kept_bytes,
                "step_bytes_per_sample": self.step_bytes}

    def __str__(self) -> str:
        head = ("layer", "type", "output", "params", "kept/sample")
        body = [(r.name or "-", r.type, "(" + ", ".join(map(str, r.output_shape)) + ")",
                 f"{r.parameters:,}", _size(r.kept_bytes)) for r in self.rows]
        foot = ("total", "", "", f"{self.parameters:,}", _size(self.kept_bytes))
        table = [head, *body, foot]
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(row, widths))).rstrip()
                 for row in table]
        lines.insert(len(lines) - 1, "-" * len(lines[0]))
        lines.append(f"input ({', '.join(map(str, self.input_shape))}) per sample; a training "
                     f"step costs about {_size(self.step_bytes)} per sample")
        return "\n".join(lines)


def _size(n: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def summarize(architecture: dict[str, Any], input_shape: tuple[int, ...]) -> Summary:
    """The summary of a (validated or not) architecture for a per-sample ``input_shape``;
    ArchitectureError as ``validate`` and ``architecture_shapes.shapes``."""
    desc = validate(architecture)
    rows = []
    for i, (path, d, shape, out, cost) in enumerate(costs_per_layer(desc, input_shape)):
        params, buffers = layer_class(d["type"]).count_numbers(d["args"])
        rows.append(LayerRow(path, d["type"], out, params, buffers,
                             kept_bytes(cost, shape, first=i == 0)))
    return Summary(tuple(input_shape), rows, step_bytes_per_sample(desc, input_shape))


def module_summary(self: Any, input_shape: tuple[int, ...]) -> Summary:
    """``Module.summary(input_shape)``: one row per layer (name, type, output shape, parameters,
    bytes kept per sample for backward) and the totals, for a per-sample ``input_shape``;
    ``print()`` it for the table. Read from the layers' records: nothing is computed.
    (Attached to Module by ``nn/__init__.py``: it needs the registry, which imports Module.)"""
    from .architecture import describe

    return summarize(describe(self), tuple(input_shape))


__all__ = ["LayerRow", "Summary", "module_summary", "summarize"]
