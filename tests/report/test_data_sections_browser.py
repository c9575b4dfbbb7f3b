"""The data sections in a real headless Chromium, for every kind of data: the sections are there, every picture
in them decodes, the tables have rows, nothing errs. Chromium comes from Debian: apt-get install -y chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Browser, find_chromium
from sections import EXPERIMENTS, sections_run

from nnrecipe.report.writer import write_outputs

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

#: per section: [images that decoded, images, table rows]
SECTION = """Array.from(document.querySelectorAll('#look-at-data, #error-analysis')).map(h => {
  const items = [];
  for (let e = h.nextElementSibling; e && e.tagName !== 'H2'; e = e.nextElementSibling) items.push(e);
  const images = items.flatMap(e => Array.from(e.querySelectorAll('img')));
  const rows = items.flatMap(e => Array.from(e.querySelectorAll('table.datatable tr')));
  return [h.id, images.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length,
          images.length, rows.length];
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM is not None
    b = Browser(CHROMIUM)
    yield b
    b.close()


@pytest.mark.parametrize("kind", sorted(EXPERIMENTS))
def test_the_sections_render_and_their_pictures_decode(browser: Browser, kind: str, tmp_path: Path) -> None:
    run = sections_run(kind)
    report = write_outputs(run.result, run.pictures, json_path=None, out_dir=str(tmp_path))
    assert report is not None
    browser.load(Path(report))
    assert browser.console_errors() == []
    found = {name: (decoded, images, rows) for name, decoded, images, rows in browser.evaluate(SECTION)}
    assert set(found) == {"look-at-data", "error-analysis"}
    for name, (decoded, images, rows) in found.items():
        assert decoded == images, f"{name}: {images - decoded} of {images} pictures did not decode"
        if kind in ("image", "signal"):
            assert images >= 2, f"{name}: {images} pictures"
        if kind in ("table", "sequence") or (kind == "regression" and name == "look-at-data"):
            assert rows > 1, f"{name}: the samples should be a table"  # decoded as rows or text
    assert browser.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling
