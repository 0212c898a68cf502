"""The maths pages check themselves: every ```python block of docs/*.md runs, and every link
resolves.

The blocks of one page run in order in one namespace (like cells of a notebook), inside a temporary
directory. Blocks hold their own ``assert`` statements, so a page whose numbers drift from the
implementation fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
#: A page that needs an optional extra says so in a comment, e.g.
#: ``<!-- needs: onnx onnxruntime (pip install -e ".[export]") -->``: its blocks are skipped,
#: with that reason, where the packages are missing (README's test install has no extras).
NEEDS = re.compile(r"<!--\s*needs:\s*([\w\s.]+?)\s*\((.*?)\)\s*-->")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, source) of each ```python block, in order."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


def test_docs_exist() -> None:
    names = {p.name for p in PAGES}
    assert "index.md" in names and len(names) >= 10, names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = page.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    if page.name == "index.md":
        return
    assert blocks, f"{page.name}: a maths page should carry at least one worked ```python example"
    for match in NEEDS.finditer(text):
        for module in match.group(1).split():
            pytest.importorskip(module, reason=f"docs/{page.name} needs {module}: "
                                               f"{match.group(2)}")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs.{page.stem}"}
    for line, source in blocks:
        code = compile(source, f"docs/{page.name}:{line}", "exec")
        exec(code, namespace)  # noqa: S102 - running our own documentation is the point


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_index_links_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    missing = [p.name for p in PAGES if p.name != "index.md" and f"({p.name}" not in index]
    assert not missing, f"docs/index.md does not link to {missing}"


def test_maths_pages_link_their_implementation() -> None:
    lacking = [p.name for p in PAGES
               if p.name != "index.md" and "../src/barenet/" not in p.read_text(encoding="utf-8")]
    assert not lacking, f"pages without a link to the implementing file: {lacking}"


def test_math_is_written_the_way_github_renders_it() -> None:
    """GitHub renders $...$ only on one line with no space inside the dollars, and drops the
    backslash of \\{ before the maths sees it; $$ blocks sit on their own lines."""
    problems = []
    for page in PAGES:
        in_code = in_math = False
        for number, line in enumerate(page.read_text(encoding="utf-8").split("\n"), 1):
            where = f"{page.name}:{number}"
            if line.startswith("```"):
                in_code = not in_code
                continue
            if in_code:
                continue
            if line.strip() == "$$":
                in_math = not in_math
                continue
            if "\\{" in line or "\\}" in line:
                problems.append(f"{where}: use \\lbrace/\\rbrace, not \\{{ \\}}")
            if in_math:
                continue
            segments = re.sub(r"`[^`]*`", "", line).split("$")
            if len(segments) % 2 == 0:
                problems.append(f"{where}: inline $...$ spans lines")
            problems += [f"{where}: space inside $...$: {s!r}" for s in segments[1::2]
                         if s != s.strip()]
        if in_math:
            problems.append(f"{page.name}: unclosed $$ block")
    assert not problems, "\n".join(problems)


# The pictures: drawn by docs/figures/draw.py from barenet's own arrays. Each is drawn again
# into a temporary directory and compared with the committed PNG (regenerate them with
# `.venv/bin/python docs/figures/draw.py` after changing a drawing).
FIGURE_DIR = DOCS / "figures"
IMAGE = re.compile(r"!\[[^\]]*\]\((figures/[^)\s]+\.png)\)")


def _draw_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_figures_draw", FIGURE_DIR / "draw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figure_names() -> list[str]:
    return sorted(p.name for p in FIGURE_DIR.glob("*.png"))


def test_every_figure_is_drawn_by_code_and_shown_on_a_page() -> None:
    drawn = set(_draw_module().FIGURES)
    committed = set(_figure_names())
    shown = {m for page in PAGES for m in IMAGE.findall(page.read_text(encoding="utf-8"))}
    assert committed == drawn, f"committed {sorted(committed)} but draw.py draws {sorted(drawn)}"
    assert {f"figures/{name}" for name in drawn} == shown, f"pages show {sorted(shown)}"


@pytest.mark.parametrize("name", _figure_names())
def test_committed_figure_is_what_the_code_draws(name: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    drew = _draw_module().FIGURES[name](tmp_path / name)
    fresh, committed = imread(tmp_path / name), imread(FIGURE_DIR / name)
    assert fresh.shape == committed.shape, f"{name}: size changed; regenerate with draw.py"
    difference = float(np.abs(fresh - committed).mean())
    assert difference < 0.01, f"docs/figures/{name} is stale ({difference:.4f}): regenerate it"
    if name == "im2col.png":                               # windows as rows
        assert drew["cols"].shape == (4, 9) and list(drew["cols"][1, :3]) == [2, 3, 4]
    if name == "attention.png":
        assert np.allclose(drew["full"].sum(axis=1), 1)
        assert np.allclose(drew["causal"], np.tril(drew["causal"]))
    if name == "vit-attention.png":                        # what attention.md says of it
        maps = drew["maps"]
        assert int((drew["predictions"] != drew["labels"]).sum()) == 2
        corners = maps[:, [0, 0, 3, 3], [0, 3, 0, 3]].mean()
        centre = maps[:, 1:3, 1:3].mean()
        assert corners < 0.5 * centre, (corners, centre)


def test_a_page_that_needs_a_missing_package_is_skipped_with_the_reason(tmp_path, monkeypatch):
    """README's test install has no extras: docs/export.md then skips, naming the extra."""
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.split(".")[0] == "onnx":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    monkeypatch.delitem(__import__("sys").modules, "onnx", raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        test_code_blocks_run(DOCS / "export.md", tmp_path, monkeypatch)
    assert "export extra" in str(info.value)
