"""The report in a real headless Chromium: it loads cleanly, every picture decodes, it is not blank, it runs
no injected script and fetches nothing. Chromium comes from Debian: apt-get install -y chromium."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser import Browser, find_chromium
from PIL import Image

from conftest import XSS
from nnrecipe.report.writer import write_outputs
from nnrecipe.results import Report

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    b = Browser(CHROMIUM)
    yield b
    b.close()


@pytest.fixture(scope="module")
def loaded(browser: Browser, image_run: Report, tmp_path_factory: pytest.TempPathFactory) -> Browser:
    folder = tmp_path_factory.mktemp("run")
    report = write_outputs(image_run.result, image_run.pictures, json_path=None, out_dir=str(folder))
    assert report is not None
    browser.load(Path(report))
    return browser


def test_page_loads_without_console_errors(loaded: Browser) -> None:
    assert loaded.console_errors() == []


def test_every_image_decodes(loaded: Browser) -> None:
    sizes = loaded.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(sizes) >= 8  # three check pictures and five from the training
    assert all(done and w > 0 and h > 0 for done, w, h in sizes)


def test_nothing_is_fetched_but_the_page_and_its_inline_images(loaded: Browser) -> None:
    urls = loaded.requested_urls()
    assert urls[0].startswith("file://")
    assert all(u.startswith("data:") for u in urls[1:])


def test_injected_script_shows_as_text(loaded: Browser) -> None:
    assert loaded.dialogs() == []
    assert loaded.evaluate("document.querySelectorAll('script').length") == 0
    assert loaded.evaluate("document.querySelector('h1').textContent") == XSS


def test_screenshot_is_not_blank(loaded: Browser) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(loaded.screenshot(full_page=True))).convert("RGB"))
    assert pixels.shape[0] > 2000  # the whole page, not a viewport of white
    colors = len(np.unique(pixels.reshape(-1, 3), axis=0))
    non_white = (pixels < 250).any(-1).mean()
    assert colors > 200 and non_white > 0.05


def test_page_fits_a_laptop_screen_without_sideways_scrolling(loaded: Browser) -> None:
    width = loaded.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366
