"""Headless Chromium (Debian's ``chromium``) run on a file: its DOM once loaded, its console
messages (CSP refusals, failed loads, script errors) and a screenshot. Each run has a new empty
profile and no network of its own (no background fetches, updates, sync or QUIC)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
_CONSOLE = re.compile(r":CONSOLE(?::\d+)?\] (.*)")


@dataclass(frozen=True)
class Loaded:
    dom: str
    console: list[str]


def chromium() -> str:
    """The browser's path; skipped where there is none, except under CI (CI=true), where it must be."""
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def _run(page: Path, *extra: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=cwd,
        )


def load(page: Path) -> Loaded:
    """The page's DOM after load, and every console message it caused."""
    done = _run(page, "--dump-dom", cwd=page.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    return Loaded(done.stdout, [m.group(1) for m in _CONSOLE.finditer(done.stderr)])


def screenshot(page: Path, out: Path, width: int = 1000, height: int = 2600) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _run(page, f"--screenshot={out.resolve()}", f"--window-size={width},{height}", cwd=out.parent)
    assert done.returncode == 0 and out.is_file(), done.stderr[-2000:]


def print_pdf(page: Path, out: Path) -> bytes:
    done = _run(page, f"--print-to-pdf={out.resolve()}", "--no-pdf-header-footer", cwd=out.parent)
    assert done.returncode == 0 and out.is_file(), done.stderr[-2000:]
    return out.read_bytes()
