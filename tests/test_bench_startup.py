"""bench/startup.py measures what it says, for this version and a baseline (no timing is judged)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import startup


def test_a_process_cpu_time_is_measured_and_a_failure_is_not_hidden(tmp_path: Path) -> None:
    env = dict(os.environ)
    assert startup.cpu_ms(["-c", "sum(range(10**6))"], env) > 0
    with pytest.raises(RuntimeError, match="exited 3"):
        startup.cpu_ms(["-c", "import sys; sys.stderr.write('why'); sys.exit(3)"], env)


def test_each_version_runs_as_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_RESIST_VALIDATE_OUTPUT", "1")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    this = startup.Tree("after", None).env(tmp_path / "cache")
    before = startup.Tree("before", tmp_path / "src").env(tmp_path / "cache")
    for env in (this, before):
        assert "FHIR_RESIST_VALIDATE_OUTPUT" not in env and "PYTHONDONTWRITEBYTECODE" not in env
        assert env["FHIR_RESIST_CATALOGUE"] == str(startup.ROOT / "catalogue")
        assert env["FHIR_RESIST_CACHE_DIR"] == str(tmp_path / "cache")
    assert "PYTHONPATH" not in this and before["PYTHONPATH"] == str(tmp_path / "src")


def test_the_probe_reports_every_in_process_figure() -> None:
    figures = startup.probe(1)
    assert set(figures) == {
        "catalogue_yaml_ms",
        "catalogue_ready_ms",
        "to_bundle_50_ms",
        "to_bundle_500_ms",
    }
    assert all(value > 0 for value in figures.values())


def test_ratios_are_derived_from_the_medians() -> None:
    trees = [startup.Tree("before", Path("/old/src")), startup.Tree("after", None)]
    medians = {
        "bare_python_ms": {"all": 10.0},
        "help_ms": {"before": 300.0, "after": 30.0},
        "cli_evaluate_0_ms": {"before": 1000.0, "after": 200.0},
        "cli_evaluate_50_ms": {"before": 1000.0, "after": 200.0},
        "cli_evaluate_500_ms": {"before": 1100.0, "after": 250.0},
        "cli_evaluate_5000_ms": {"before": 3000.0, "after": 700.0},
    }
    derived = startup._derived(medians, startup.Config(sizes=(50, 500, 5000)), trees)
    assert not any(name.startswith("cli_growth_50_") for name in derived)
    assert derived["help_over_bare_python"] == {"before": 30.0, "after": 3.0}
    # per variant above the fixed cost: before 0.2 then 0.4 ms (2.0), after 0.1 then 0.1 ms (1.0)
    assert derived["cli_growth_500_to_5000"] == pytest.approx({"before": 2.0, "after": 1.0})
    lines = startup.table(derived, trees)
    assert "bare_python_ms 10 10 ms" in lines and "help_over_bare_python 30 3 ratio" in lines


def test_a_baseline_without_fhir_resist_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        startup.main(["--baseline", str(tmp_path)])
    assert "holds no fhir_resist package" in capsys.readouterr().err
