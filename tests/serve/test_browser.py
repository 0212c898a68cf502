"""End to end in a real headless browser (Debian's Chromium driven by Playwright): load the page,
draw digits stroke by stroke with the mouse, watch the prediction appear and change, upload a
picture file, screenshot; ask why (the input-gradient heatmap, for the prediction and for a
clicked class) and teach the page's own copy of the network (an MLP, and an LSTM whose moved
weights are shown one tile per gate).

Set ``BARENET_SERVE_SCREENSHOT=path.png`` to also save the final screenshot there.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from barenet.data.images import from_bytes, to_mnist

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Python playwright is not installed (pip install playwright)")
import serve_screenshot as ui  # noqa: E402  (tests/serve/serve_screenshot.py)

if not Path(ui.CHROMIUM).exists():
    pytest.skip(f"no Chromium at {ui.CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = ui.launch(p)
        yield b
        b.close()


def test_draw_digits_and_watch_the_prediction_change(browser, server, run, test_set, make_png,
                                                      tmp_path) -> None:
    page = ui.open_page(browser, server.url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    assert page.locator("#pred-digit").inner_text() == "–"
    assert page.locator("#model-info .chip").count() >= 3

    # A "1", stroke by stroke; the answer appears while the button is still down.
    def live(page) -> None:
        sync_api.expect(page.locator("#pred-digit")).not_to_have_text("–")

    ui.draw(page, ui.ONE, during=live)
    one = ui.settled_prediction(page)
    assert one == "1"
    bars = page.locator("#bars li")
    assert bars.nth(1).get_attribute("class") == "bar top"

    # Add a top bar: the 1 becomes a 7 (or at least the answer is recomputed for it).
    ui.draw(page, ui.SEVEN_BAR)
    seven = ui.settled_prediction(page)
    assert seven in "0123456789"
    page.screenshot(path=str(tmp_path / "seven.png"))

    # Undo brings back the 1's answer; clear empties everything.
    page.click("#undo")
    assert ui.settled_prediction(page) == one
    page.click("#clear")
    assert ui.settled_prediction(page) == "–"
    assert page.locator("#layers canvas").count() == 0

    # A different digit after clearing: a 0.
    ui.draw(page, ui.ZERO)
    zero = ui.settled_prediction(page)
    assert zero == "0" and zero != one
    # what the network saw, and the hidden layers, are drawn
    seen_ink = page.evaluate("""() => {
        const d = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data;
        let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s; }""")
    assert seen_ink > 0
    assert page.locator("#layers .layer").count() >= 1

    # A random test image from the data set is predicted, with its true label.
    page.click("#sample")
    sync_api.expect(page.locator("#truth")).to_contain_text("Test image #")
    assert ui.settled_prediction(page) in "0123456789"

    # A finger: touch pointer events (as a phone sends them) draw a 1 too.
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / 280
    for i, (kind, (x, y)) in enumerate([("pointerdown", ui.ONE[0][0])]
                                       + [("pointermove", p) for p in ui.ONE[0][1:]]
                                       + [("pointerup", ui.ONE[0][-1])]):
        page.dispatch_event("#pad", kind, {"pointerId": 7, "pointerType": "touch", "button": 0,
                                           "isPrimary": True, "clientX": box["x"] + x * scale,
                                           "clientY": box["y"] + y * scale, "bubbles": True})
    assert ui.settled_prediction(page) == "1"

    # A picture file, uploaded with the button: sent as a form, predicted like the server does.
    page.click("#clear")
    png = make_png(test_set.images[0], 200)
    want = int(np.argmax(run.predict_proba(to_mnist(from_bytes(png))[None])[0]))
    with page.expect_file_chooser() as chooser:
        page.get_by_text("Upload a picture").click()
    chooser.value.set_files(files=[{"name": "seven.png", "mimeType": "image/png", "buffer": png}])
    assert ui.settled_prediction(page) == str(want)
    sync_api.expect(page.locator("#truth")).to_contain_text("seven.png")
    pad_ink = page.evaluate("""() => {
        const d = document.getElementById('pad').getContext('2d').getImageData(0, 0, 280, 280).data;
        let dark = 0; for (let i = 0; i < d.length; i += 4) dark += d[i] < 128; return dark; }""")
    assert pad_ink > 100  # the picture is shown on the pad
    page.click("#undo")   # undo removes the picture
    assert ui.settled_prediction(page) == "–"

    page.click("#clear")
    ui.draw(page, ui.THREE)
    ui.settled_prediction(page)
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("BARENET_SERVE_SCREENSHOT"):
        shutil.copy(shot, os.environ["BARENET_SERVE_SCREENSHOT"])
    assert not errors, errors

    # A file that is not a picture: the server's one-line reason is shown.
    page.set_input_files("#upload", files=[{"name": "notes.txt", "mimeType": "text/plain",
                                            "buffer": b"hello"}])
    sync_api.expect(page.locator("#status")).to_contain_text("not a picture")
    page.close()


def _ink(page, canvas: str) -> list[int]:
    """The red and blue channel sums of a 28x28 canvas (a heatmap's two colours)."""
    return page.evaluate("""(id) => {
        const d = document.getElementById(id).getContext('2d').getImageData(0, 0, 28, 28).data;
        let r = 0, b = 0; for (let i = 0; i < d.length; i += 4) { r += d[i]; b += d[i + 2]; }
        return [r, b]; }""", canvas)


def test_ask_why_and_teach_the_network(browser, server, run) -> None:
    page = ui.open_page(browser, server.url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    assert page.locator("#teach").is_disabled()      # nothing drawn, no label picked

    ui.draw(page, ui.ZERO)
    assert ui.settled_prediction(page) == "0"
    blank = _ink(page, "why-heat")
    text = ui.ask_why(page)
    assert "log p(0)" in text and "predicted class" in text
    mine = _ink(page, "why-heat")
    assert mine != blank                               # a heatmap is drawn ...
    colours = page.evaluate("""() => {
        const d = document.getElementById('why-heat').getContext('2d').getImageData(0, 0, 28, 28).data;
        let red = 0, blue = 0;
        for (let i = 0; i < d.length; i += 4) { red += d[i] > d[i + 2] + 40; blue += d[i + 2] > d[i] + 40; }
        return [red, blue]; }""")
    assert colours[0] > 0 and colours[1] > 0          # ... on a diverging map: both signs
    assert page.locator("#bars li.why").nth(0).get_attribute("data-k") == "0"

    # clicking another class explains that class
    text = ui.ask_why(page, target=6)
    assert "log p(6)" in text and "clicked" in text
    assert _ink(page, "why-heat") != mine
    assert page.locator("#bars li.why").get_attribute("data-k") == "6"

    # teach the copy that this 0 is a 6: p(6) rises, the page's own prediction does not change
    before = ui.bar_probabilities(page, "#bars")
    status = ui.teach(page, 6, steps=3, lr=0.05)
    assert page.locator("#teach-card").get_attribute("data-state") == "done", status
    after = ui.bar_probabilities(page, "#teach-bars")
    assert len(after) == 10 and after[6] > before[6] + 0.01, (before, after)
    assert "3 steps" in status and "Your copy has taken 3 steps" in status
    assert page.locator("#teach-norms .norm").count() == 2     # the MLP's two Linear layers
    assert page.locator("#teach-moved canvas").count() >= 1
    assert re.match(r"\d+\.\d% → \d+\.\d% since", page.locator("#teach-acc-text").inner_text())
    assert ui.bar_probabilities(page, "#bars") == before

    # again in the same session: the copy keeps learning
    status = ui.teach(page, 6, steps=1)
    assert "taken 4 steps" in status
    # reset: the copy has the trained weights again
    page.click("#teach-reset")
    sync_api.expect(page.locator("#teach-status")).to_contain_text("trained weights again")
    assert page.locator("#teach-result").is_hidden()
    status = ui.teach(page, 6, steps=1)
    assert "taken 1 step." in status
    assert not errors, errors
    page.close()


def test_teaching_an_lstm_names_its_gates(browser, serving, tmp_path) -> None:
    """The moved-weight tiles of a recurrent first layer are named after its gates."""
    from barenet.serve import make_server
    from barenet.train.api import train_model
    from barenet.train.checkpoint import load_run

    train_model({"dataset": "mnist", "model": {"name": "lstm", "hidden": 16}, "epochs": 1,
                 "limit_train": 300, "limit_test": 50, "seed": 0}, tmp_path / "lstm", plots=False)
    with serving(make_server(load_run(tmp_path / "lstm"), "127.0.0.1", 0, seed=0)) as srv:
        page = ui.open_page(browser, srv.url)
        ui.draw(page, ui.ZERO)
        ui.settled_prediction(page)
        status = ui.teach(page, 6, steps=1)
        assert page.locator("#teach-card").get_attribute("data-state") == "done", status
        titles = [page.locator("#teach-moved canvas").nth(i).get_attribute("title")
                  for i in range(page.locator("#teach-moved canvas").count())]
        assert titles == ["input gate", "forget gate", "cell candidate", "output gate"]
        assert "One tile per gate" in page.locator("#teach-moved-text").inner_text()
        page.close()
