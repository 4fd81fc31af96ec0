"""The page in headless Chromium: it renders without a console message (no refused or failed
load, no error), the timeline's marks are in the rendered document, it prints, and a screenshot
of an acquired-resistance scenario's page is kept in test-output/ (a CI artefact)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fhir_resist import Catalogue
from tests.conftest import ROOT
from tests.page.chromium import load, print_pdf, screenshot
from tests.page.parsed import parse
from tests.page.test_page_scenarios import scenario_page

ACQUIRED = "crc-egfr-s492r-acquired-cetuximab"
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="module")
def acquired_page(catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _expect, _assessment, _context, html = scenario_page(ACQUIRED, catalogue)
    page = tmp_path_factory.mktemp("page") / f"{ACQUIRED}.html"
    page.write_text(html, encoding="utf-8")
    return page


def test_the_page_renders_with_no_console_message_and_its_marks(acquired_page: Path) -> None:
    loaded = load(acquired_page)
    assert loaded.console == []
    dom = parse(loaded.dom)
    (svg,) = dom.find("svg")
    assert len(svg.find("g", id_prefix="therapy-")) == 1
    assert len(svg.find("g", id_prefix="sample-")) == 2
    assert len(svg.find("g", id_prefix="vaf-")) == 1
    assert len(svg.find("g", id_prefix="appears-")) == 1
    assert len(dom.find("article", "alert")) == 1


def test_a_page_that_fetches_is_caught(tmp_path: Path) -> None:
    """The console check sees what the page must never do: load from the network."""
    page = tmp_path / "fetching.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"></head><body><img src='http://127.0.0.1:9/x.png'></body></html>",
        encoding="utf-8",
    )
    assert any("x.png" in message for message in load(page).console)


def test_screenshot_and_print(acquired_page: Path, tmp_path: Path) -> None:
    shot = OUTPUT / f"patient-page-{ACQUIRED}.png"
    screenshot(acquired_page, shot)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    pdf = print_pdf(acquired_page, tmp_path / "page.pdf")
    assert pdf.startswith(b"%PDF") and re.search(rb"/Type\s*/Page(?!s)", pdf)
