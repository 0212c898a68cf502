"""Drive the `barenet board` page in headless Chromium: helpers for the browser test, and a
script that writes the README screenshot.

    python tests/board/board_screenshot.py RUNS_DIR docs/board-screenshot.png

starts a board on a free port for RUNS_DIR, waits until every run's curves are drawn, points
at an epoch of the loss chart (the hover read-out) and saves the page.
Uses Debian's /usr/bin/chromium through Python Playwright (never ``playwright install``).
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1440, "height": 1060}


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless, with nothing reaching out to the network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def open_board(browser: Any, url: str, runs: int, scale: float = 1) -> Any:
    """A page on the board, once its list shows ``runs`` runs (waits use selectors: the page's
    CSP forbids evaluating strings, which wait_for_function needs)."""
    page = browser.new_page(viewport=VIEWPORT, device_scale_factor=scale)
    page.goto(url)
    if runs:
        page.wait_for_selector(f"#runs li.run:nth-child({runs})", state="attached")
    return page


def hover_epoch(page: Any, chart: str, fraction: float) -> None:
    """Move the mouse over ``#chart-<chart>`` at ``fraction`` of its plot's width (scrolled
    into view first: the pointer only reaches what is on screen)."""
    canvas = page.locator(f"#chart-{chart}")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    left, right = 58, 16   # charts.js's padding
    x = box["x"] + left + fraction * (box["width"] - left - right)
    page.mouse.move(x, box["y"] + box["height"] / 2)


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    from barenet.board import make_board_server
    from barenet.train.listing import list_runs

    root, out = Path(argv[0]), Path(argv[1])
    n = len(list_runs(root)[0])
    srv = make_board_server(root, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        with sync_playwright() as p:
            browser = launch(p)
            page = open_board(browser, srv.url, n, scale=1)
            page.wait_for_selector(f"#runs li.run[data-rows]:nth-child({n})", state="attached")
            page.wait_for_timeout(300)
            hover_epoch(page, "loss", 0.29)
            page.wait_for_timeout(200)
            page.screenshot(path=str(out), full_page=True)
            browser.close()
    finally:
        srv.shutdown()
        srv.server_close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
