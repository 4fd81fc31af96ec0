"""The last result of a patient: a previous run's directory, or our resources on a (mocked) HAPI server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.client import FhirClient, Retry
from fhir_resist.fhir.delivery import deliver, scope_of
from fhir_resist.fhir.outbox import Outbox
from fhir_resist.reevaluation.alerts import alerts_of
from fhir_resist.reevaluation.previous import PreviousDirectory, PreviousOnServer
from tests.conftest import SCENARIOS, load_json
from tests.hapi import BASE, HapiMock

KRAS = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
PATIENT = next(e["resource"]["id"] for e in KRAS["entry"] if e["resource"]["resourceType"] == "Patient")
AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def hapi() -> Iterator[HapiMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mock = HapiMock(mocked)
        mock.seed(KRAS)
        yield mock


def test_a_directory_gives_the_patients_bundle_or_none(tmp_path: Path, catalogue: Catalogue) -> None:
    bundle = to_bundle(evaluate([KRAS], catalogue=catalogue, at=AT))
    (tmp_path / f"{PATIENT}.json").write_text(json.dumps(bundle), encoding="utf-8")
    previous = PreviousDirectory(tmp_path)
    assert previous.of(f"Patient/{PATIENT}") == [bundle]
    assert previous.of("Patient/someone-else") is None


def test_an_unreadable_previous_result_is_named(tmp_path: Path) -> None:
    (tmp_path / "p1.json").write_text("{", encoding="utf-8")
    (tmp_path / "p2.json").write_text('{"resourceType": "Patient"}', encoding="utf-8")
    previous = PreviousDirectory(tmp_path)
    with pytest.raises(InputError, match="cannot be read") as caught:
        previous.of("Patient/p1")
    assert caught.value.where == str(tmp_path / "p1.json")
    with pytest.raises(InputError, match="not a FHIR Bundle"):
        previous.of("Patient/p2")
    with pytest.raises(InputError, match="no such directory"):
        PreviousDirectory(tmp_path / "absent")


def test_the_server_gives_our_alerts_in_force(hapi: HapiMock, tmp_path: Path, catalogue: Catalogue) -> None:
    client = FhirClient(BASE, retry=Retry(attempts=1))
    previous = PreviousOnServer(client)
    assert previous.of(f"Patient/{PATIENT}") is None  # never evaluated
    assessment = evaluate([KRAS], catalogue=catalogue, at=AT)
    bundle = to_bundle(assessment)
    assert deliver(client, bundle, scope_of(assessment), Outbox(tmp_path / "outbox")).outcome == "delivered"
    found = previous.of(f"Patient/{PATIENT}")
    assert found is not None
    assert {r["resourceType"] for r in found} == {"DetectedIssue"}
    assert alerts_of(found) == alerts_of([bundle])  # the same alerts, by content, as what was sent


def test_a_server_that_fails_is_a_server_error(hapi: HapiMock) -> None:
    hapi.fail(times=1, status=500)
    with pytest.raises(ServerError):
        PreviousOnServer(FhirClient(BASE, retry=Retry(attempts=1))).of(f"Patient/{PATIENT}")
