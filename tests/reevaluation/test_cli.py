"""``fhir-resist reevaluate``: the summary, the comparison with a previous run, the write-back
through the outbox, and the errors a user meets."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import responses

from fhir_resist.cli import main
from fhir_resist.fhir.outbox import Outbox
from tests.conftest import EXAMPLES, load_json
from tests.hapi import BASE, HapiMock
from tests.reevaluation.conftest import EXAMPLE_FILES, PATIENTS, example_resources, shuffled_export

AT = ["--at", "2026-11-30T09:00:00Z", "--workers", "1"]


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return shuffled_export(tmp_path / "export", example_resources())


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["patient"]: row for row in csv.DictReader(handle)}


def test_a_first_run_then_a_run_against_it(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    summary, parquet = tmp_path / "first.csv", tmp_path / "first.parquet"
    args = [str(export), "--out-dir", str(first), "--summary", str(summary), "--parquet", str(parquet)]
    assert main(["reevaluate", *args, *AT]) == 0
    err = capsys.readouterr().err
    assert "patients: 4 (4 evaluated, 0 not affected by the catalogue change, 0 failed)" in err
    assert "0 changed, 0 unchanged, 4 without an earlier result" in err
    rows = _rows(summary)
    assert sorted(rows) == sorted(PATIENTS)
    assert {row["change"] for row in rows.values()} == {"first"}
    assert rows["Patient/kr12-pt"]["new"] == "1"
    assert pq.read_table(parquet).to_pylist() == [
        {**row, **{k: int(v) for k, v in row.items() if v.isdigit()}}
        for row in csv.DictReader(summary.open())
    ]
    assert sorted(p.name for p in first.iterdir()) == sorted(f"{p.split('/')[1]}.json" for p in PATIENTS)

    # the KRAS alert taken out of the previous result: the re-run finds it new, the rest unchanged
    kras = first / "kr12-pt.json"
    bundle = json.loads(kras.read_text(encoding="utf-8"))
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "DetectedIssue"]
    kras.write_text(json.dumps(bundle), encoding="utf-8")
    again = tmp_path / "again.csv"
    assert main(["reevaluate", str(export), "--previous", str(first), "--summary", str(again), *AT]) == 0
    err = capsys.readouterr().err
    assert "1 changed, 3 unchanged, 0 without an earlier result" in err
    assert "alerts: 1 new, 0 withdrawn" in err
    assert "Patient/kr12-pt: changed (new: KRAS p.G12D / cetuximab (crc-antiegfr-kras-ext-ras))" in err
    assert (
        _rows(again)["Patient/kr12-pt"]["changes"]
        == "new: KRAS p.G12D / cetuximab (crc-antiegfr-kras-ext-ras)"
    )


def test_an_unchanged_catalogue_reevaluates_nobody(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["reevaluate", str(export), "--catalogue-before", str(EXAMPLES.parent / "catalogue"), *AT]) == 0
    )
    err = capsys.readouterr().err
    assert "catalogue change: 0 rule(s) added, 0 removed, 0 edited (none)" in err
    assert "patients: 4 (0 evaluated, 4 not affected by the catalogue change, 0 failed)" in err


def test_a_bad_line_is_named_and_the_others_are_evaluated(
    export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (export / "part.2.ndjson").open("a", encoding="utf-8") as handle:
        handle.write('{"resourceType": "Observation",\n')
    assert main(["reevaluate", str(export), *AT]) == 2
    err = capsys.readouterr().err
    lines = len((export / "part.2.ndjson").read_text(encoding="utf-8").splitlines())
    assert f"{export}/part.2.ndjson:{lines}: not valid JSON" in err
    assert (
        "patients: 4 (4 evaluated" in err and "errors: 0 patient(s) not evaluated, 1 input problem(s)" in err
    )


def test_a_patient_that_fails_is_named_and_the_run_goes_on(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "bv600-pt.json").write_text("not json", encoding="utf-8")
    assert main(["reevaluate", str(export), "--previous", str(previous), *AT]) == 2
    err = capsys.readouterr().err
    assert "Patient/bv600-pt: not evaluated: " in err and "the previous result cannot be read" in err
    assert "patients: 4 (3 evaluated, 0 not affected by the catalogue change, 1 failed)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.ndjson"], "missing.ndjson: no such file or directory"),
        (["EXPORT", "--scheduler", "localhost:8786"], "scheduler: 'localhost:8786' is not a Dask scheduler"),
        (["EXPORT", "--workers", "0"], "--workers: at least 1"),
        (["EXPORT", "--previous", "missing-dir"], "missing-dir: no such directory"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    args: list[str], message: str, export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    given = [str(export) if a == "EXPORT" else a for a in args]
    assert main(["reevaluate", *given]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# --------------------------------------------------------------------------- writing back


@pytest.fixture
def hapi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HapiMock]:
    """The HAPI mock holding the examples' patients (what our results refer to)."""
    monkeypatch.setenv("FHIR_RESIST_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("FHIR_RESIST_RETRIES", "2")
    monkeypatch.setattr("fhir_resist.fhir.client.FhirClient._backoff", lambda self, attempt: 0.0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock = HapiMock(rsps)
        for name in EXAMPLE_FILES:
            mock.seed(load_json(EXAMPLES / name))
        yield mock


def test_changed_results_are_written_back_once(
    hapi: HapiMock, export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reevaluate", str(export), "--server", BASE, "--write", BASE, *AT]) == 0
    err = capsys.readouterr().err
    assert "written back: 4, not written: 0" in err
    issues = len(hapi.all("DetectedIssue"))
    assert issues == 2 and len(hapi.all("GuidanceResponse")) == 4  # KRAS / cetuximab, BRAF / panitumumab
    posts = sum(1 for method, _, _ in hapi.calls if method == "POST")
    # compared with what is on the server now: nothing changed, nothing is sent again
    assert main(["reevaluate", str(export), "--server", BASE, "--write", BASE, *AT]) == 0
    err = capsys.readouterr().err
    assert "0 changed, 4 unchanged" in err and "written back" not in err
    assert sum(1 for method, _, _ in hapi.calls if method == "POST") == posts
    assert len(hapi.all("DetectedIssue")) == issues


def test_a_failed_write_is_kept_in_the_outbox(
    hapi: HapiMock,
    export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FHIR_RESIST_RETRIES", "1")  # one gateway failure fails one delivery
    hapi.fail(times=1, method="POST", status=503)
    assert main(["reevaluate", str(export), "--write", BASE, *AT]) == 3
    err = capsys.readouterr().err
    assert "written back: 3, not written: 1 (see the outbox)" in err
    assert "write-back: queued" in err
    items, problems = Outbox(tmp_path / "outbox").items()
    assert problems == [] and [item.state for item in items] == ["pending"]
    assert main(["outbox", "retry"]) == 0
    assert len(hapi.all("GuidanceResponse")) == 4


def test_a_patient_the_engine_fails_is_a_row_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = shuffled_export(
        tmp_path / "export", [*example_resources(), {"resourceType": "Patient", "id": "a b"}]
    )
    summary = tmp_path / "summary.csv"
    assert main(["reevaluate", str(export), "--summary", str(summary), *AT]) == 2
    err = capsys.readouterr().err
    assert "Patient/a b: not evaluated: the patient's id is not a FHIR id" in err
    row = _rows(summary)["Patient/a b"]
    assert (row["outcome"], row["change"]) == ("failed", "")
    assert "not a FHIR id" in row["error"]


def test_a_defect_on_one_patient_is_exit_1_and_the_others_go_on(
    export: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_resist.reevaluation import affected

    reach = affected.patient_reach

    def broken(patient: str, resources: Any, catalogue: Any) -> affected.PatientReach:
        if patient == "Patient/kr12-pt":
            raise KeyError("reach")
        return reach(patient, resources, catalogue)

    monkeypatch.setattr("fhir_resist.reevaluation.run.patient_reach", broken)
    assert (
        main(["reevaluate", str(export), "--catalogue-before", str(EXAMPLES.parent / "catalogue"), *AT]) == 1
    )
    err = capsys.readouterr().err
    assert "Patient/kr12-pt: not evaluated: internal error (KeyError: 'reach'); please report it" in err
    assert "3 not affected by the catalogue change, 1 failed" in err


@pytest.mark.parametrize("option", ["--summary", "--parquet"])
def test_a_summary_that_cannot_be_written_is_named(
    option: str, export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "summary.out"
    assert main(["reevaluate", str(export), option, str(target), *AT]) == 2
    assert f"{target}: cannot be written" in capsys.readouterr().err
