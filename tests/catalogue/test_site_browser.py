"""The catalogue site in headless Chromium, from file://: pages render without console errors
and the inline search finds rules. Skipped where Chromium is absent, unless on CI (``CI`` set)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fhir_resist import Catalogue
from fhir_resist.catalogue.site import write_site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="headless Chromium is not installed"
)
RULE = "crc-antiegfr-kras-ext-ras"


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, "CI runs this test: install Debian's chromium package"
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Path:
    out = tmp_path_factory.mktemp("site")
    write_site(catalogue, out)
    return out


def test_the_search_finds_rules_from_a_query_in_the_address(site: Path, tmp_path: Path) -> None:
    ran = _chromium(tmp_path, "--dump-dom", f"{(site / 'index.html').as_uri()}?q=KRAS+cetuximab")
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert _console_errors(ran.stderr) == []
    results = ran.stdout.split('id="search-results">', 1)[1].split("</ul>", 1)[0]
    assert f'<a href="rules/{RULE}.html">' in results
    count = ran.stdout.split('id="search-count"', 1)[1].split("</p>", 1)[0]
    assert count.endswith((" rules", " rule"))


def test_a_rule_page_renders(site: Path, tmp_path: Path) -> None:
    shot = tmp_path / f"catalogue-rule-{RULE}.png"
    ran = _chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1100,1600",
        (site / "rules" / f"{RULE}.html").as_uri(),
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert _console_errors(ran.stderr) == []
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size > 20_000  # a page of text, not a blank one
