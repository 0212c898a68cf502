"""README.md stays true: its Python examples run, its tour continues from the set-up's run
(and is the script's output), and its links point at files that exist."""
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def section(text: str, title: str) -> str:
    """The body of the ``## title`` section."""
    body = text.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_python_blocks_run(tmp_path, monkeypatch):
    """Every ```python block, in order, in one namespace, from a directory holding docs/
    (README's examples run from the repository's root)."""
    pytest.importorskip("PIL")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2, "README.md should train in Python, then save, load and predict"
    (tmp_path / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    onnx = importlib.util.find_spec("onnxruntime") is not None and \
        importlib.util.find_spec("onnx") is not None
    for block in blocks:
        if "import onnxruntime" in block and not onnx:
            continue                      # the export extra is not installed
        exec(compile(block, str(README), "exec"), namespace)
    # The example trains one epoch of the classic MLP: it must have learned something.
    assert np.isfinite(namespace["loss"]) and namespace["loss"] < 0.5
    assert not namespace["model"].training and namespace["accuracy"] > 0.9
    run = namespace["run"]
    assert (tmp_path / "runs" / "mlp-python" / "weights.npz").is_file()
    test = namespace["test"]
    assert np.array_equal(run.predict(test.images[:8]),
                          namespace["logits"][:8].argmax(axis=1))   # loaded == trained
    assert run.classes[int(namespace["probs"].argmax())] == "7"      # docs/digit-7.png
    if onnx:                                                          # the ONNX file agrees
        onnx_logits = namespace["session"].run(None, {"pixels": namespace["pixels"]})[0]
        assert np.array_equal(onnx_logits.argmax(axis=1), run.predict(test.images[:8]))


def test_relative_links_exist():
    text = README.read_text()
    links = re.findall(r"\]\(([^)#]+?)\)", text)
    local = [link for link in links if "://" not in link]
    assert local
    for link in local:
        assert (README.parent / link).exists(), f"README.md links to missing {link}"


def test_tour_continues_from_the_setup_run():
    """The set-up trains into a fixed directory, and every run the tour uses is made by the
    set-up or earlier in the tour (no `barenet evaluate runs/mlp` of a run nobody made)."""
    text = README.read_text()
    setup = re.findall(r"barenet train\b[^\n#]*--out (\S+)", section(text, "Set up"))
    assert setup, "README's set-up should train with --out, so the tour can name the run"
    tour = section(text, "A 30-second tour")
    made = set(setup)
    commands = re.findall(r"^\$ barenet (\w+) ([^\n#]*)", tour, re.M)
    assert commands
    for command, rest in commands:
        words = rest.split()
        if command == "train":
            out = words[words.index("--out") + 1]
            assert out not in made or words == ["--out", out], f"tour trains {out} twice"
            made.add(out)
        elif command in ("evaluate", "predict", "serve", "plot"):
            assert words[0] in made, f"the tour's `barenet {command} {words[0]}` has no run"
    assert any(c == "evaluate" and r.split()[0] == setup[0] for c, r in commands)


def _tour_script():
    spec = importlib.util.spec_from_file_location("readme_tour", ROOT / "scripts" / "readme_tour.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tour_is_generated_between_markers():
    script = _tour_script()
    text = README.read_text()
    assert text.count(script.START) == 1 and text.count(script.END) == 1
    inside = text.split(script.START)[1].split(script.END)[0]
    assert "python scripts/readme_tour.py" in inside and "```console" in inside
    for args, _, _ in script.COMMANDS:                 # what the script runs is what is shown
        assert f"$ barenet {' '.join(args)}" in inside
    assert script.splice(text, inside) == text          # splicing is exact around the markers
    assert script.splice("a\n<!-- tour:start -->\nold\n<!-- tour:end -->\nb", "new") == \
        "a\n<!-- tour:start -->\nnew\n<!-- tour:end -->\nb"
    with pytest.raises(ValueError, match="expected the markers"):
        script.splice("no markers", "new")


def test_tour_elides_epochs_and_long_output():
    script = _tour_script()
    lines = ["training on 54000 images"] + [f"epoch {i:2d}/15  ..." for i in range(1, 16)] + \
        ["trained mlp", "saved to runs/mlp"]
    short = script.elide(lines, (3, 4), epochs=True)
    assert short[:4] == lines[:4] and short[4] == "..." and short[5:] == lines[12:]
    assert script.elide(["a", "b", "c", "d", "e", "f"], (4, 0), epochs=False) == \
        ["a", "b", "c", "d", "..."]
    assert script.elide(["a", "b"], None, epochs=False) == ["a", "b"]
