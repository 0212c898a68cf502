"""End to end in a real headless browser (Debian's Chromium driven by Playwright): load the page,
draw digits stroke by stroke with the mouse, watch the prediction appear and change, upload a
picture file, screenshot.

Set ``BARENET_SERVE_SCREENSHOT=path.png`` to also save the final screenshot there.
"""
from __future__ import annotations

import os
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
