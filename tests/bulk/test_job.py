"""An export from kick-off to the job's deletion, its record, and what a re-run does with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from fhir_resist.bulk.job import Pacing, run_export
from fhir_resist.bulk.kickoff import export_request
from fhir_resist.bulk.record import RECORD
from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.client import FhirClient
from tests.bulk.conftest import Clock, population
from tests.bulk.hapi_export import HapiBulk, lines
from tests.hapi import BASE

GROUP = export_request("group", group="sequenced")


def _methods(hapi: HapiBulk) -> list[str]:
    kinds = []
    for method, url, _ in hapi.seen:
        path = url.split("/fhir/", 1)[-1].split("?")[0]
        kinds.append(f"{method} {path.split('/')[0] if path.startswith('Binary') else path}")
    return kinds


def test_a_group_export_end_to_end(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    notes: list[str] = []
    done = run_export(client, GROUP, tmp_path / "out", pacing=pacing, progress=notes.append)
    out = tmp_path / "out"
    assert _methods(hapi) == [
        "GET Group/sequenced/$export",
        "GET $export-poll-status",
        "GET $export-poll-status",
        *["GET Binary"] * 6,
        "DELETE $export-poll-status",
    ]
    assert all(h["Authorization"] == "Bearer bulk-export-token" for _, _, h in hapi.seen)
    assert {r["id"] for r in lines((out / "Patient-1.ndjson").read_bytes())} == {"p1", "p2"}
    assert {r["subject"]["reference"] for r in lines((out / "Observation-1.ndjson").read_bytes())} == {
        "Patient/p1",
        "Patient/p2",
    }
    record = json.loads((out / RECORD).read_text())
    assert record["resources"] == {
        "Patient": 2,
        "Observation": 2,
        "DiagnosticReport": 2,
        "Specimen": 2,
        "Condition": 2,
        "MedicationRequest": 2,
    }
    assert record["request"]["level"] == "group" and record["server"] == f"{BASE}/"
    assert record["transactionTime"] == record["manifest"]["transactionTime"]
    assert record["finished"] and record["errors"]["severities"] == {}
    assert record["job"] == "job already finished on the server (DELETE answered 404)"
    assert [f["path"] for f in record["files"]][:2] == ["Patient-1.ndjson", "Observation-1.ndjson"]
    assert notes[0] == "export started at Group/sequenced/$export"
    assert notes[-1] == "downloading MedicationRequest-1.ndjson (6/6)"
    assert not done.already_complete and not done.errors.missing_resources


def test_a_system_export_carries_medications_and_splits_files(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    hapi.per_file = 2
    done = run_export(client, export_request("system"), tmp_path, pacing=pacing)
    counts = done.record.resources_by_type()
    assert counts["Medication"] == 1 and counts["Observation"] == 3
    assert (tmp_path / "Observation-2.ndjson").exists()
    assert sum(1 for f in done.record.files if f.type == "Observation") == 2


def test_a_rerun_of_a_finished_export_downloads_nothing(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    run_export(client, GROUP, tmp_path, pacing=pacing)
    before = len(hapi.seen)
    notes: list[str] = []
    again = run_export(client, GROUP, tmp_path, pacing=pacing, progress=notes.append)
    assert len(hapi.seen) == before
    assert again.already_complete
    assert again.record.resources_by_type()["Patient"] == 2
    assert "complete already" in notes[0]


class _Stop(BaseException):
    """The process ends here (killed), without any handler running."""


def test_a_rerun_continues_the_downloads_an_interruption_left(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    def interrupt(note: str) -> None:
        if note.startswith("downloading DiagnosticReport"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_export(client, GROUP, tmp_path, pacing=pacing, progress=interrupt)
    assert "DELETE $export-poll-status" not in _methods(hapi)  # the job keeps the files for the re-run
    hapi.seen.clear()
    done = run_export(client, GROUP, tmp_path, pacing=pacing)
    assert _methods(hapi) == [*["GET Binary"] * 4, "DELETE $export-poll-status"]
    assert done.record.resources_by_type()["Patient"] == 2
    assert all(f.done for f in done.record.files)


def test_a_rerun_after_a_crash_while_waiting_polls_the_same_job(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    def crash(seconds: float) -> None:
        raise _Stop

    with pytest.raises(_Stop):
        run_export(client, GROUP, tmp_path, pacing=Pacing(sleep=crash, clock=clock))
    hapi.seen.clear()
    run_export(client, GROUP, tmp_path, pacing=Pacing(sleep=clock.sleep, clock=clock))
    assert _methods(hapi)[0] == "GET $export-poll-status"
    assert len(hapi.jobs) == 1


def test_a_failed_job_is_deleted_and_a_rerun_starts_anew(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    hapi.fail_job = "HAPI-2200: export failed"
    with pytest.raises(ServerError, match="HAPI-2200: export failed"):
        run_export(client, GROUP, tmp_path, pacing=pacing)
    assert _methods(hapi)[-1] == "DELETE $export-poll-status"
    record = json.loads((tmp_path / RECORD).read_text())
    assert record["statusUrl"] is None
    assert record["job"].startswith("abandoned while polling; job deleted")
    hapi.fail_job = None
    run_export(client, GROUP, tmp_path, pacing=pacing)
    assert len(hapi.jobs) == 2


def test_cancelling_while_waiting_deletes_the_job(
    hapi: HapiBulk, client: FhirClient, clock: Clock, tmp_path: Path
) -> None:
    def cancel(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_export(client, GROUP, tmp_path, pacing=Pacing(sleep=cancel, clock=clock))
    job = next(iter(hapi.jobs.values()))
    assert job.state == "CANCELLED"
    assert _methods(hapi)[-1] == "DELETE $export-poll-status"


def test_a_job_that_cannot_be_deleted_leaves_the_files_alone(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    hapi.fail(status=403, body="forbidden", content_type="text/plain", method="DELETE")
    done = run_export(client, export_request("patient", types=("Patient",)), tmp_path, pacing=pacing)
    assert done.record.job is not None
    assert done.record.job.startswith("job not deleted: DELETE $export-poll-status: the server answered 403")
    assert len(list(lines((tmp_path / "Patient-1.ndjson").read_bytes()))) == 3
    assert done.record.complete


def test_error_files_are_kept_apart_counted_and_quoted(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    hapi.errors = [
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "processing", "diagnostics": "Observation/o9 could not be read"}
            ],
        },
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "information", "code": "informational", "details": {"text": "no Specimen"}}
            ],
        },
    ]
    done = run_export(client, GROUP, tmp_path, pacing=pacing)
    assert (tmp_path / "errors" / "OperationOutcome-1.ndjson").exists()
    assert done.errors.severities == {"error": 1, "information": 1}
    assert done.errors.messages == ("error: Observation/o9 could not be read", "information: no Specimen")
    assert done.errors.missing_resources
    assert "OperationOutcome" not in done.record.resources_by_type()
    again = run_export(client, GROUP, tmp_path, pacing=pacing)
    assert again.errors == done.errors


def test_files_on_another_origin_get_no_token(
    rsps: responses.RequestsMock, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    hapi = HapiBulk(rsps, files_at="https://files.test/export", requires_token=False)
    hapi.seed(*population())
    run_export(client, GROUP, tmp_path, pacing=pacing)
    files = [h for _, u, h in hapi.seen if u.startswith("https://files.test/")]
    assert len(files) == 6
    assert not any("Authorization" in h for h in files)


def test_a_file_elsewhere_that_requires_the_token_is_refused(
    rsps: responses.RequestsMock, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    hapi = HapiBulk(rsps, files_at="https://files.test/export", requires_token=True)
    hapi.seed(*population())
    with pytest.raises(
        ServerError, match=r"requires the access token, but the file is on https://files\.test:443"
    ):
        run_export(client, GROUP, tmp_path, pacing=pacing)
    assert not [u for _, u, _ in hapi.seen if u.startswith("https://files.test/")]


def test_a_directory_holding_another_export_is_refused(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    run_export(client, GROUP, tmp_path, pacing=pacing)
    with pytest.raises(InputError, match="holds an export of another request") as caught:
        run_export(client, export_request("system"), tmp_path, pacing=pacing)
    assert caught.value.where == str(tmp_path / RECORD)


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "cannot be read"), ('{"format": "other"}', "is not a fhir-resist export record")],
)
def test_a_damaged_record_is_named(
    client: FhirClient, pacing: Pacing, tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / RECORD).write_text(content)
    with pytest.raises(InputError, match=message):
        run_export(client, GROUP, tmp_path, pacing=pacing)


def test_a_record_naming_a_path_outside_the_directory_is_refused(
    hapi: HapiBulk, client: FhirClient, pacing: Pacing, tmp_path: Path
) -> None:
    run_export(client, GROUP, tmp_path, pacing=pacing)
    record = json.loads((tmp_path / RECORD).read_text())
    record["files"][0]["path"] = "../../etc/passwd"
    (tmp_path / RECORD).write_text(json.dumps(record))
    with pytest.raises(InputError, match=r"'\.\./\.\./etc/passwd'"):
        run_export(client, GROUP, tmp_path, pacing=pacing)
