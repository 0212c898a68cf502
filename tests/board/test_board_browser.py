"""The board in a real headless browser (Debian's Chromium driven by Playwright): a run trained
by a real `barenet train` in a subprocess appears on its own and its curves grow epoch by epoch
without a reload, beside a finished run; a run trained with --clip-grad-norm draws its
clipping (and a run without it draws none); ticking a run takes its lines off; run names are
shown as text, never as markup; a run's figure link serves the picture.

Set ``BARENET_BOARD_SCREENSHOT=path.png`` to also save the live test's last screenshot there.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from board_helpers import copy_run

from barenet.plots import read_metrics_csv

sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Python playwright is not installed (pip install playwright)")
import board_screenshot as ui  # noqa: E402  (tests/board/board_screenshot.py)

if not Path(ui.CHROMIUM).exists():
    pytest.skip(f"no Chromium at {ui.CHROMIUM} (apt-get install chromium)", allow_module_level=True)

EPOCHS = 4
# A small CNN run: long enough per epoch (about 2 s on a quiet machine) that the page, asking
# every 0.5 s, sees it training and growing; a small MLP could finish between two requests.
TRAIN = ["train", "--model", "cnn", "--epochs", str(EPOCHS), "--limit-train", "6000",
         "--limit-test", "500", "--diagnostics", "--no-plots", "--quiet", "--seed", "1"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = ui.launch(p)
        yield b
        b.close()


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def rows_of(page, run: str) -> int | None:
    value = page.locator(f'#runs li.run[data-run="{run}"]').get_attribute("data-rows")
    return None if value is None else int(value)


def test_a_run_in_training_grows_without_a_reload(browser, board, trained, tmp_path) -> None:
    root = tmp_path / "runs"
    copy_run(trained, root / "done")
    srv, _ = board(root, refresh=0.5)
    page = ui.open_board(browser, srv.url, 1)
    errors = watch_errors(page)
    page.wait_for_selector('#runs li.run[data-run="done"][data-rows="3"]', state="attached")
    page.evaluate("() => { window.loadedOnce = 'yes'; }")   # gone if the page reloads

    proc = subprocess.Popen([sys.executable, "-m", "barenet.cli.main", *TRAIN,
                             "--out", str(root / "live")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen, statuses = [], set()
    try:
        page.wait_for_selector('#runs li.run[data-run="live"]', state="attached", timeout=60_000)
        end = time.monotonic() + 240
        while time.monotonic() < end:
            li = page.locator('#runs li.run[data-run="live"]')
            statuses.add(li.get_attribute("data-status"))
            rows = rows_of(page, "live")
            if rows is not None and (not seen or seen[-1] != rows):
                seen.append(rows)
            if rows == EPOCHS and li.get_attribute("data-status") == "finished":
                break
            page.wait_for_timeout(100)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "training" in statuses and "finished" in statuses, statuses
    print("epochs seen on the page:", seen)
    assert seen[-1] == EPOCHS, seen
    assert len([n for n in seen if 0 < n < EPOCHS]) >= 1, seen     # grew on screen, epoch by epoch
    assert seen == sorted(seen), seen
    assert page.evaluate("() => window.loadedOnce") == "yes"
    # train and validation lines of both runs; the live run's gradient flow drawn too
    loss = page.locator("#chart-loss")
    assert loss.get_attribute("data-series") == "4"
    assert loss.get_attribute("data-points") == str(2 * 3 + 2 * EPOCHS)
    assert page.locator("#card-grad").is_visible() and page.locator("#card-lr").is_visible()
    assert int(page.locator("#chart-grad").get_attribute("data-series")) >= 4
    assert page.locator("#card-clip").is_hidden() and page.locator("#card-clipped").is_hidden()
    assert page.locator('#runs li.run[data-run="live"] .badge').inner_text() == "finished"
    assert errors == []
    shot = os.environ.get("BARENET_BOARD_SCREENSHOT")
    page.screenshot(path=shot or str(tmp_path / "board.png"), full_page=True)


def percent(v: float) -> str:
    """A fraction as the page's read-out writes it (charts.js's ``format``)."""
    return f"{v * 100:.{1 if abs(v) >= 0.9995 else 2}f}%"


def test_a_clipped_run_draws_its_clipping(browser, board, trained, clipped, tmp_path) -> None:
    root = tmp_path / "runs"
    copy_run(clipped, root / "clipped")
    copy_run(trained, root / "plain")
    rows = read_metrics_csv(clipped / "metrics.csv")
    srv, _ = board(root, refresh=0.5)
    page = ui.open_board(browser, srv.url, 2)
    errors = watch_errors(page)
    page.wait_for_selector('#chart-loss[data-series="4"]', state="attached")
    assert page.locator("#card-clip").is_visible() and page.locator("#card-clipped").is_visible()
    clip, bars = page.locator("#chart-clip"), page.locator("#chart-clipped")
    # the clipped run only: its norm before clipping and its threshold; one bar per epoch
    assert clip.get_attribute("data-series") == "2" and clip.get_attribute("data-points") == "4"
    assert bars.get_attribute("data-series") == "1" and bars.get_attribute("data-points") == "2"
    assert page.locator("#card-clip .lines").inner_text().split() == \
        ["‖g‖", "before", "clipping", "threshold", "C"]

    ui.hover_epoch(page, "clipped", 0.25)                    # epoch 1 of 0.5 .. 2.5
    tip = page.locator("#card-clipped .tip")
    tip.wait_for(state="visible")
    assert tip.inner_text().split("\n") == [
        "epoch 1", "clipped steps clipped", percent(rows[0]["clip/fraction_clipped"])]
    ui.hover_epoch(page, "clip", 0.97)                       # epoch 2
    tip = page.locator("#card-clip .tip")
    tip.wait_for(state="visible")
    assert tip.inner_text().split("\n") == [
        "epoch 2", "clipped ‖g‖ before clipping", f"{rows[1]['clip/total_norm']:.3g}",
        "clipped threshold C", "1"]

    page.locator('#runs li.run[data-run="clipped"] input[type="checkbox"]').uncheck()
    page.wait_for_selector("#card-clip", state="hidden")
    assert page.locator("#card-clipped").is_hidden()
    assert page.locator("#chart-loss").get_attribute("data-series") == "2"
    assert errors == []


def test_untick_a_run_and_open_its_figure(browser, board, trained, tmp_path) -> None:
    root = tmp_path / "runs"
    for name in ("a", "b"):
        run = copy_run(trained, root / name)
        (run / "curves.png").write_bytes((trained / "curves.png").read_bytes())
    srv, _ = board(root, refresh=0.5)
    page = ui.open_board(browser, srv.url, 2)
    errors = watch_errors(page)
    page.wait_for_selector('#chart-loss[data-series="4"]', state="attached")
    page.locator('#runs li.run[data-run="a"] input[type="checkbox"]').uncheck()
    page.wait_for_selector('#chart-loss[data-series="2"]', state="attached")
    assert page.locator("#legend .legend-run").all_inner_texts() == ["b"]
    page.reload()   # the choice is remembered
    page.wait_for_selector('#chart-loss[data-series="2"]', state="attached")
    assert not page.locator('#runs li.run[data-run="a"] input').is_checked()

    link = page.locator('#runs li.run[data-run="b"] a.figure')
    assert link.all_inner_texts() == ["curves"]
    res = page.request.get(srv.url.rstrip("/") + link.get_attribute("href"))
    assert res.status == 200 and res.body() == (trained / "curves.png").read_bytes()
    serve = page.locator('#runs li.run[data-run="b"] .serve code').inner_text()
    assert serve == f"barenet serve {root / 'b'}"
    assert errors == []


def test_hostile_names_and_files_are_shown_as_text(browser, board, trained, tmp_path) -> None:
    root = tmp_path / "runs"
    name = '<img src=x onerror="window.pwned=1">'
    copy_run(trained, root / name)
    copy_run(trained, root / "broken", b"epoch,train_loss\n1,\x00\n")
    srv, _ = board(root, refresh=0.5)
    page = ui.open_board(browser, srv.url, 2)
    page.wait_for_selector('#runs li.run[data-run="broken"] .run-error', state="attached")
    assert page.locator("#runs img").count() == 0
    assert page.locator("#runs .run-name").all_inner_texts() == [name, "broken"]
    assert "binary data" in page.locator('#runs li.run[data-run="broken"] .run-error').inner_text()
    page.wait_for_selector('#chart-loss[data-series="2"]', state="attached")  # the other run
    assert page.evaluate("() => window.pwned") is None
