"""The request checked option by option, and the kick-off as HAPI answers it (see hapi_export.py)."""

from __future__ import annotations

import pytest

from fhir_resist.bulk.kickoff import READ_TYPES, export_request, kick_off
from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.read.population import ABOUT_A_PATIENT
from tests.bulk.hapi_export import HapiBulk
from tests.hapi import BASE


def test_system_export_asks_for_every_type_read_including_medication() -> None:
    request = export_request("system")
    assert request.path == "$export"
    assert request.types == READ_TYPES
    assert request.params() == [("_type", ",".join(READ_TYPES))]


@pytest.mark.parametrize(
    ("level", "group", "path"), [("patient", None, "Patient/$export"), ("group", "g-1", "Group/g-1/$export")]
)
def test_patient_and_group_exports_leave_medication_out(level: str, group: str | None, path: str) -> None:
    request = export_request(level, group=group)  # type: ignore[arg-type]
    assert request.path == path
    assert "Medication" not in request.types
    assert "MedicationRequest" in request.types


def test_filters_and_since_become_parameters() -> None:
    request = export_request(
        "system",
        types=("Observation", "Patient", "Observation"),
        type_filters=("Observation?code=http://loinc.org|69548-6",),
        since="2026-01-31T00:00:00Z",
    )
    assert request.params() == [
        ("_type", "Observation,Patient"),
        ("_typeFilter", "Observation?code=http://loinc.org|69548-6"),
        ("_since", "2026-01-31T00:00:00Z"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "where", "text"),
    [
        ({"level": "group"}, "--group", "exactly one Group id"),
        ({"level": "system", "group": "g"}, "--group", "exactly one Group id"),
        ({"level": "group", "group": "a/b"}, "--group", "not a FHIR id"),
        ({"level": "system", "types": ("Encounter",)}, "--type", "'Encounter' is not read"),
        ({"level": "patient", "types": ("Medication",)}, "--type", "in no patient compartment"),
        ({"level": "system", "type_filters": ("code=x",)}, "--type-filter", "TYPE?criteria"),
        (
            {"level": "system", "types": ("Patient",), "type_filters": ("Observation?code=x",)},
            "--type-filter",
            "",
        ),
        ({"level": "system", "since": "2026-01-31"}, "--since", "not a FHIR instant"),
        ({"level": "system", "since": "2026-02-31T00:00:00Z"}, "--since", "not a FHIR instant"),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, object], where: str, text: str) -> None:
    with pytest.raises(InputError) as caught:
        export_request(**kwargs)  # type: ignore[arg-type]
    assert caught.value.where == where
    assert text in str(caught.value)


def test_kick_off_sends_prefer_respond_async_and_returns_the_status_url(
    hapi: HapiBulk, client: FhirClient
) -> None:
    status = kick_off(client, export_request("group", group="sequenced"))
    method, url, headers = hapi.seen[-1]
    assert (method, url.split("?")[0]) == ("GET", f"{BASE}/Group/sequenced/$export")
    assert headers["Prefer"] == "respond-async"
    assert headers["Accept"] == "application/fhir+json"
    assert headers["Authorization"] == "Bearer bulk-export-token"
    assert status.startswith(f"{BASE}/$export-poll-status?_jobId=")


def test_an_unknown_group_is_the_servers_refusal_with_its_words(hapi: HapiBulk, client: FhirClient) -> None:
    with pytest.raises(ServerError) as caught:
        kick_off(client, export_request("group", group="nobody"))
    assert caught.value.status == 404
    assert not caught.value.retryable
    assert "bulk export kick-off (Group/nobody/$export)" in str(caught.value)
    assert "HAPI-2001: Resource Group/nobody is not known" in str(caught.value)


def test_a_type_hapi_refuses_at_patient_level_is_reported(hapi: HapiBulk, client: FhirClient) -> None:
    # export_request keeps Medication out of patient exports; a hand-made request shows HAPI's answer
    request = export_request("patient")
    wrong = type(request)("patient", ("Patient", "Medication"))
    with pytest.raises(ServerError, match=r"400 Bad Request: HAPI-0512: Resource types \[Medication\]"):
        kick_off(client, wrong)


def test_a_synchronous_answer_is_not_taken_for_a_job(hapi: HapiBulk, client: FhirClient) -> None:
    hapi.fail(status=200, body='{"resourceType": "Bundle"}', content_type="application/fhir+json")
    with pytest.raises(ServerError, match="expected 202 Accepted with Content-Location"):
        kick_off(client, export_request("system"))


def test_a_gateway_error_at_kick_off_is_retried(hapi: HapiBulk, client: FhirClient) -> None:
    hapi.fail(status=503, headers={"Retry-After": "2"})
    assert "_jobId=" in kick_off(client, export_request("patient"))
    assert len(hapi.jobs) == 1


def test_the_types_exported_are_those_the_reader_reads() -> None:
    assert set(READ_TYPES) == {*ABOUT_A_PATIENT, "Patient", "Medication"}
    assert len(READ_TYPES) == len(set(READ_TYPES))
