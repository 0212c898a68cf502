"""The text of the file ``barenet exercises start NAME`` writes: a header (what to do, how to
check, where to read), the marker line naming the exercise, and the class to complete.

The marker ``# barenet-exercise: NAME`` lets the checker recognise a file whatever it is
called; without it, the file name (``NAME.py``) says which exercise it is.
"""
from __future__ import annotations

import re

from .catalogue import info

MARKER = "# barenet-exercise:"
_MARKER_RE = re.compile(r"^# barenet-exercise:\s*([A-Za-z0-9_]+)\s*$", re.M)

_HEADER = '''"""Exercise {name}: {asks}.

Complete the methods below that raise NotImplementedError. The constructor is written for
you, with the parameters declared exactly as the reference declares them, so the checker can
load the reference's weights into your class and compare every number. The reference:
{reference}.

Check your work (from the directory above this file):

    barenet exercises check {path}

or in Python / a notebook:

    import barenet.exercises
    barenet.exercises.check("{name}", {class_name})

The checker runs your class in float64 in several configurations and compares the forward
pass, dL/dx and every parameter gradient with barenet's and with centred differences of your
own forward; it tells you which quantity is wrong, where, and names the mistake when it
recognises one.

Read: docs/{docs}; notebook {notebook}.
"""
{marker} {name}
'''


def stub_text(name: str) -> str:
    """The complete stub file of exercise ``name``."""
    from .registry import spec_of

    row = info(name)
    header = _HEADER.format(name=name, asks=row.asks, reference=row.reference,
                            path=f"exercises/{name}.py", class_name=row.class_name,
                            docs=row.docs, notebook=row.notebook, marker=MARKER)
    return header + spec_of(name).stub.lstrip("\n")


def marker_of(text: str) -> str | None:
    """The exercise named by a file's marker line, or None."""
    found = _MARKER_RE.search(text)
    return found.group(1) if found else None
