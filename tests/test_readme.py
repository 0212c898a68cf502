"""README.md stays true: its Python example runs, and its links point at files that exist."""
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README.md has no python example"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # The example trains one epoch of the classic MLP: it must have learned something.
    assert np.isfinite(namespace["loss"]) and namespace["loss"] < 0.5


def test_relative_links_exist():
    text = README.read_text()
    links = re.findall(r"\]\(([^)#]+?)\)", text)
    local = [link for link in links if "://" not in link]
    assert local
    for link in local:
        assert (README.parent / link).exists(), f"README.md links to missing {link}"
