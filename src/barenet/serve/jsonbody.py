"""JSON request bodies of ``barenet serve``, read as hostile input: one object, no NaN or
Infinity, no integer longer than 20 digits, and every field checked for type and range before it
is used. Every problem is an ``HTTPError`` 400 with a one-line message naming the field."""
from __future__ import annotations

import json
import math
import re

from .errors import HTTPError

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")  # what ``sessions.new_token`` hands out
#: Longest query value read as an integer (a longer one is refused, never cut)
MAX_QUERY_CHARS = 20
_QUERY_INT = re.compile(r"-?[0-9]+")   # ASCII digits only: no "+", "_", spaces or other scripts


def _parse_int(digits: str) -> int:
    """A JSON integer, refused beyond 20 digits (Python would spend quadratic time on
    thousands, and no field needs them)."""
    if len(digits) > 20:
        raise HTTPError(400, f"bad JSON: an integer of {len(digits)} digits")
    return int(digits)


def _reject_constant(name: str) -> None:
    raise HTTPError(400, f"bad JSON: {name} is not allowed")


def parse_object(body: bytes, expected: str) -> dict:
    """The body as a JSON object, or HTTPError 400; ``expected`` describes the object wanted
    (quoted in the error), e.g. ``{"pixels": [784 numbers in 0..255]}``."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_reject_constant,
                         parse_int=_parse_int)
    except UnicodeDecodeError:
        raise HTTPError(400, "bad JSON: the body is not UTF-8") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise HTTPError(400, f"bad JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict):
        raise HTTPError(400, f"bad JSON: expected an object {expected}")
    return doc


def int_field(doc: dict, name: str, lo: int, hi: int, default: int | None = None) -> int:
    """``doc[name]`` as an integer in ``lo..hi`` (``default`` when absent or null and a default
    is given); a bool, a string or a fraction is refused."""
    value = doc.get(name)
    if value is None:
        if default is None:
            raise HTTPError(400, f"'{name}' is required: an integer in {lo}..{hi}")
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise HTTPError(400, f"'{name}' must be an integer in {lo}..{hi}, got "
                             f"{type(value).__name__} {str(value)[:20]!r}")
    if not lo <= value <= hi:
        raise HTTPError(400, f"'{name}' must be in {lo}..{hi}, got {value}")
    return value


def float_field(doc: dict, name: str, lo: float, hi: float, default: float) -> float:
    """``doc[name]`` as a finite number in (``lo``, ``hi``] (``default`` when absent or null)."""
    value = doc.get(name)
    if value is None:
        return default
    if type(value) not in (int, float) or not math.isfinite(value):
        raise HTTPError(400, f"'{name}' must be a number in ({lo:g}, {hi:g}], got "
                             f"{type(value).__name__} {str(value)[:20]!r}")
    if not lo < value <= hi:
        raise HTTPError(400, f"'{name}' must be in ({lo:g}, {hi:g}], got {value:g}")
    return float(value)


def query_fields(query: dict[str, list[str]], names: tuple[str, ...]) -> dict[str, int]:
    """The integer options ``names`` of a query string (``parse_qs``'s dict) as a dict for
    ``int_field`` to check the range of; absent ones are left out. Each value is read whole: one
    value per name, an optional "-" and ASCII digits, at most MAX_QUERY_CHARS characters (a
    longer one is refused, never cut). HTTPError 400 naming the option otherwise."""
    doc = {}
    for name in names:
        values = query.get(name)
        if values is None:
            continue
        if len(values) != 1:
            raise HTTPError(400, f"'{name}' is given {len(values)} times in the query, "
                                 "expected once")
        value = values[0]
        if len(value) > MAX_QUERY_CHARS:
            raise HTTPError(400, f"'{name}' must be an integer of at most {MAX_QUERY_CHARS} "
                                 f"characters, got {len(value)} characters")
        if not _QUERY_INT.fullmatch(value):
            raise HTTPError(400, f"'{name}' must be an integer (digits), got {value!r}")
        doc[name] = int(value)
    return doc


def token_field(doc: dict, required: bool) -> str | None:
    """``doc["token"]``: a session token as the server hands them out, or None when absent
    (then a new session is wanted) unless ``required``."""
    value = doc.get("token")
    if value is None:
        if required:
            raise HTTPError(400, "'token' is required: the session token /api/learn handed out")
        return None
    if not isinstance(value, str) or not TOKEN.fullmatch(value):
        raise HTTPError(400, f"'token' must be a session token (16 to 64 letters, digits, '-' "
                             f"or '_'), got {str(value)[:20]!r}")
    return value
