"""The bundled synthetic population: the README's one command re-evaluates it against the results
made before the MET amplification rule, and reports the alerts that rule adds."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from fhir_resist.cli import main
from tests.conftest import EXAMPLES, ROOT

POPULATION = EXAMPLES / "population"
COMMAND = (
    "fhir-resist reevaluate examples/population/export --previous examples/population/previous "
    "--at 2026-12-01T09:00:00Z"
)
RULE = "crc-antiegfr-met-amplification"


def test_the_readme_gives_the_command() -> None:
    assert f'pip install ".[population]" && {COMMAND}' in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_bundled_population_shows_the_new_rules_alerts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    summary = tmp_path / "summary.csv"
    assert main([*COMMAND.split()[1:], "--workers", "1", "--summary", str(summary)]) == 0
    err = capsys.readouterr().err
    patients = len(list((POPULATION / "previous").glob("*.json")))
    assert patients >= 50
    assert f"patients: {patients} ({patients} evaluated" in err
    assert "0 without an earlier result" in err and "errors: 0 patient(s)" in err
    with summary.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    changed = [row for row in rows if row["change"] == "changed"]
    assert changed and len(changed) < patients
    for row in changed:  # every change is an alert of the added rule
        clauses = row["changes"].split("; ")
        assert any(re.fullmatch(rf"new: MET amplification .* / \w+ \({RULE}\)", c) for c in clauses), row
    new = int(re.search(r"alerts: (\d+) new", err).group(1))  # type: ignore[union-attr]
    assert new == sum(int(row["new"]) for row in rows) >= len(changed)
