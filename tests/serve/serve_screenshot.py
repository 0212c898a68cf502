"""Drive the `barenet serve` page in headless Chromium: helpers for the browser test, and a script
that writes the README screenshot.

    python tests/serve/serve_screenshot.py RUN_DIR docs/serve-screenshot.png

starts a server on a free port for RUN_DIR, draws a digit stroke by stroke, asks why, teaches
the page's copy of the network that the digit is an 8 (3 steps) and saves the page.
Uses Debian's /usr/bin/chromium through Python Playwright (never ``playwright install``).
"""
from __future__ import annotations

import math
import sys
import threading
from pathlib import Path
from typing import Any, Iterable

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 900}

# Strokes in pad coordinates (the pad is 280x280): lists of (x, y).
ONE = [[(150, 40), (146, 110), (142, 180), (140, 245)]]
SEVEN_BAR = [[(70, 48), (110, 44), (150, 42)]]  # turns the ONE into a 7
ZERO = [[(140 + 62 * math.sin(t / 24 * 2 * math.pi), 142 - 95 * math.cos(t / 24 * 2 * math.pi))
         for t in range(25)]]
THREE = [[(85, 60), (120, 40), (170, 45), (185, 85), (150, 125), (120, 130)],
         [(150, 128), (190, 165), (185, 215), (140, 245), (85, 225)]]


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless, with nothing reaching out to the network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
    page.goto(url)
    # Waits use selectors, not wait_for_function: the page's CSP forbids evaluating strings.
    page.wait_for_selector("#bars li:nth-child(10)", state="attached")
    page.wait_for_selector("#weights canvas, #weights-card[hidden]", state="attached")
    return page


def pad_origin(page: Any) -> tuple[float, float, float]:
    """Top-left corner of the pad on screen and the CSS-pixels-per-pad-pixel scale."""
    box = page.locator("#pad").bounding_box()
    return box["x"], box["y"], box["width"] / 280.0


def draw(page: Any, strokes: Iterable[list[tuple[float, float]]], steps: int = 6,
         during: Any = None) -> None:
    """Draw strokes with the mouse, ``steps`` moves between points; ``during(page)`` is called
    mid-way through the first stroke with the button still down."""
    x0, y0, s = pad_origin(page)
    for k, stroke in enumerate(strokes):
        (x, y), rest = stroke[0], stroke[1:]
        page.mouse.move(x0 + x * s, y0 + y * s)
        page.mouse.down()
        for i, (x, y) in enumerate(rest):
            page.mouse.move(x0 + x * s, y0 + y * s, steps=steps)
            if during is not None and k == 0 and i == len(rest) // 2:
                during(page)
        page.mouse.up()


def settled_prediction(page: Any) -> str:
    """Wait until no request is pending, then return the predicted digit shown."""
    page.wait_for_selector("body[data-busy='0']", state="attached")
    return page.locator("#pred-digit").inner_text()


def bar_probabilities(page: Any, selector: str) -> list[float]:
    """The percentages shown in a list of bars (``#bars`` or ``#teach-bars``), as fractions."""
    texts = page.locator(f"{selector} li .pct").all_inner_texts()
    return [float(t.rstrip("%")) / 100 for t in texts]


def ask_why(page: Any, target: int | None = None) -> str:
    """Press "Why this answer?" (or click class ``target`` in the prediction list) and wait
    for the heatmap; returns the explanation's text."""
    page.locator("#why-card").evaluate("(el) => { el.dataset.state = 'asked'; }")
    if target is None:
        page.click("#why")
    else:
        page.locator("#bars li").nth(target).click()
    page.wait_for_selector("#why-card[data-state='ready']", state="attached", timeout=60_000)
    return page.locator("#why-text").inner_text()


def teach(page: Any, label: int, steps: int = 1, lr: float | None = None) -> str:
    """Pick ``label``, set the steps (and learning rate), press "Teach it" and wait for the
    answer; returns the status line."""
    page.locator("#teach-labels button").nth(label).click()
    page.locator("#teach-steps").fill(str(steps))
    if lr is not None:
        page.fill("#teach-lr", str(lr))
    page.locator("#teach-card").evaluate("(el) => { el.dataset.state = 'asked'; }")
    page.click("#teach")
    page.wait_for_selector("#teach-card[data-state='done'], #teach-card[data-state='error']",
                           state="attached", timeout=120_000)
    return page.locator("#teach-status").inner_text()


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    from barenet.serve import make_server
    from barenet.train.checkpoint import load_run

    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    run_dir, out = argv
    server = make_server(load_run(run_dir), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = open_page(browser, server.url)
            draw(page, THREE)
            digit = settled_prediction(page)
            ask_why(page)
            lesson = teach(page, 8, steps=3)
            page.screenshot(path=out, full_page=True)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"predicted {digit}; {lesson}; wrote {Path(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
