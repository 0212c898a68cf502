"""What every failing command must show: exit status 1 and exactly one line on stderr,
``barenet: error: ...``, with no traceback."""
from __future__ import annotations

from typing import Any


def one_error_line(capsys: Any, rc: int, stdout_empty: bool = False) -> str:
    """Checks the captured output of a command that returned ``rc``; returns the error line.
    ``stdout_empty``: also require that nothing was printed on stdout."""
    out, err = capsys.readouterr()
    assert rc == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("barenet: error: "), err
    assert err.endswith("\n") and "Traceback" not in err
    if stdout_empty:
        assert out == "", out
    return lines[0]
