"""The project's own exceptions. Messages name the thing and what was expected, in one line.

The CLI turns any ``BarenetError`` into ``barenet: error: <message>`` on stderr and exit code 1.
"""


class BarenetError(Exception):
    """Base class: a problem the user can fix (bad file, bad value), not a bug."""


class DataError(BarenetError):
    """A data file is missing, truncated, corrupt, or fails its checksum."""


class IDXError(DataError):
    """An IDX file is malformed (magic number, dtype code, dims, payload length, label range)."""


class CheckpointError(BarenetError):
    """A run directory or checkpoint is missing, from a newer format version, or inconsistent."""


class ConfigError(BarenetError):
    """An unknown model/dataset name or an invalid hyper-parameter."""


class ImageError(BarenetError):
    """An input picture cannot be read, is too large, or holds no ink."""


class TrainingDiverged(BarenetError):
    """The loss became NaN or infinite during training."""


MAX_MESSAGE = 200  # characters of a value or message quoted in an error


def brief(text: object, limit: int = MAX_MESSAGE) -> str:
    """``text`` on one line, cut to ``limit`` characters with a note of how much was cut."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"
