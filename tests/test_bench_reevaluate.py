"""bench/reevaluate.py runs end to end on a tiny population and reports every figure (never timed)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_reevaluate_bench_reports_its_figures() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "bench/reevaluate.py",
            "--patients",
            "6",
            "--variants",
            "5",
            "--engines",
            "local_w1,local_w2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    figures = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert figures["patients"] == "6"
    for engine in ("local_w1", "local_w2"):
        for figure in ("patients_per_s", "wall_s", "cpu_s", "parent_rss_mb", "workers_rss_mb"):
            assert f"{engine}_{figure}" in figures
    assert float(figures["local_w2_workers_rss_mb"].split()[0]) > 0  # the workers were seen
    assert float(figures["local_w1_parent_rss_mb"].split()[0]) > 0
    assert 0 < int(float(figures["affected_patients"].split()[0])) <= 6
    assert "affected_search_s" in figures
