"""How long the playground takes to answer a knob: from a key press on the lr slider to the
changed summary line and the redrawn views, in headless Chromium. A measurement, not a
test: it prints medians and asserts nothing (docs/playground.md quotes it).

    python tests/playground_latency.py [REPEATS]

Needs Chromium at /usr/bin/chromium (apt-get install chromium) and the test tools.
"""

import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the tests' helpers, and the project
from test_playground import open_page, serve_playground  # noqa: E402

# What the page shows, read through the shadow roots marimo draws its cells in.
TEXTS = """(function read(root) { let text = "";
  root.querySelectorAll("*").forEach(element => {
    if (element.tagName === "PRE") text += element.innerText;
    if (element.tagName === "IMG") text += element.src.length + element.src.slice(-64);
    if (element.shadowRoot) text += read(element.shadowRoot); });
  return text; })(document)"""
PICTURES = TEXTS.replace('element.tagName === "PRE"', "false")


def press_and_time(page, slider, key):
    """(seconds to the new summary line, seconds to the new views) after one key press."""
    text, pictures = page.evaluate(TEXTS), page.evaluate(PICTURES)
    slider.focus()
    start = time.perf_counter()
    page.keyboard.press(key)
    page.wait_for_function(f"before => {TEXTS} !== before", arg=text, polling="raf")
    summary = time.perf_counter() - start
    page.wait_for_function(f"before => {PICTURES} !== before", arg=pictures, polling="raf")
    views = time.perf_counter() - start
    page.wait_for_timeout(1000)  # let the page settle before the next press
    return summary, views


def measure(page, label, repeats):
    lr = page.get_by_role("slider").first
    times = [press_and_time(page, lr, "ArrowLeft" if turn % 2 else "ArrowRight")
             for turn in range(repeats)]
    summary, views = (statistics.median(column) for column in zip(*times, strict=True))
    print(f"{label:34} summary line {summary:.2f} s, views {views:.2f} s "
          f"(medians of {repeats}; views {min(v for _, v in times):.2f} to "
          f"{max(v for _, v in times):.2f} s)")


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    server, address = serve_playground()
    try:
        with sync_playwright() as driver:
            browser, page = open_page(driver, address)
            page.get_by_text("final: w=").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            sliders = page.get_by_role("slider")
            epochs, batch_size = sliders.nth(1), sliders.nth(2)
            measure(page, "gd, all 100 samples, 20 epochs", repeats)
            epochs.focus()
            for _ in range(8):  # 20 to 100 epochs, ten at a press
                page.keyboard.press("PageUp")
            page.wait_for_timeout(2000)
            measure(page, "gd, all 100 samples, 100 epochs", repeats)
            epochs.focus()
            for _ in range(8):
                page.keyboard.press("PageDown")
            batch_size.focus()
            page.keyboard.press("Home")  # batch size 1: SGD
            page.wait_for_timeout(2000)
            measure(page, "SGD, batch size 1, 20 epochs", repeats)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
