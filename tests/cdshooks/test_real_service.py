"""The service against a real HAPI FHIR server: a posted report written back, and a hook call whose
data is fetched through ``fhirServer`` because the EHR sent no prefetch.

    FHIR_RESIST_TEST_SERVER=http://127.0.0.1:8080/fhir python -m pytest -m server

Each test puts its own copy of a scenario patient on the server (ids suffixed with a random
tag). Skipped when the variable is not set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue, terminology
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.config import server_settings
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.outbox import Outbox
from tests.cdshooks.test_app import prefetch_of
from tests.conftest import SCENARIOS, load_json, renamed, seed_transaction

SERVER = os.environ.get("FHIR_RESIST_TEST_SERVER")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not SERVER, reason="set FHIR_RESIST_TEST_SERVER to a FHIR R4 base URL"),
]
SCENARIO = SCENARIOS / "crc-kras-g12d-cetuximab.json"
PATIENT_VIEW = "fhir-resist-patient-view"


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def server() -> FhirClient:
    assert SERVER
    return FhirClient(SERVER)


@pytest.fixture
def service(tmp_path: Path, catalogue: Catalogue, server: FhirClient) -> Iterator[TestClient]:
    settings = ServiceSettings(
        auth="off",  # callers are not what these tests are about; the server is
        feedback_path=tmp_path / "feedback.jsonl",
        server=server_settings({}, base=server.base, outbox=str(tmp_path / "outbox")),
    )
    app = create_app(settings, catalogue=catalogue, limits=Limits())
    with TestClient(app) as client:
        yield client


def _seeded(server: FhirClient, tag: str) -> dict[str, Any]:
    bundle = renamed(load_json(SCENARIO), tag)
    server.transaction(seed_transaction(bundle, server.base))
    return bundle


def _our_issues(server: FhirClient, tag: str) -> list[dict[str, Any]]:
    return server.search(
        "DetectedIssue", [("patient", f"Patient/pat-1-{tag}"), ("identifier", f"{terminology.NS_FINDING}|")]
    )


def test_a_posted_report_is_written_to_the_server_once(
    service: TestClient, server: FhirClient, tag: str, tmp_path: Path
) -> None:
    _seeded(server, tag)
    notification = {"resourceType": "DiagnosticReport", "id": f"dr-1-{tag}", "status": "final"}
    for _ in range(2):  # the same report posted twice (a retried notification)
        answer = service.post("/reports", json=notification)
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["patient"] == f"Patient/pat-1-{tag}" and result["issues"] == 1
        assert result["delivery"]["outcome"] == "delivered"
    (issue,) = _our_issues(server, tag)
    assert issue["status"] == "final"
    assert any("cetux" in (i.get("reference") or "") for i in issue.get("implicated", []))
    assert Outbox(tmp_path / "outbox").items() == ([], [])


def test_a_hook_call_without_prefetch_fetches_the_record_from_the_server(
    service: TestClient, server: FhirClient, tag: str
) -> None:
    bundle = _seeded(server, tag)
    context = {"userId": "Practitioner/example", "patientId": f"pat-1-{tag}"}
    fetched = service.post(
        f"/cds-services/{PATIENT_VIEW}",
        json={
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "fhirServer": server.base,
            "context": context,
        },
    )
    assert fetched.status_code == 200, fetched.text
    cards = fetched.json()["cards"]
    assert cards[0]["indicator"] == "warning"  # a therapy the patient is on, not one being ordered
    assert cards[0]["summary"].startswith("cetuximab unlikely to work: KRAS p.G12D")
    sent = service.post(
        f"/cds-services/{PATIENT_VIEW}",
        json={
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": context,
            "prefetch": prefetch_of(bundle),
        },
    )
    assert sent.status_code == 200, sent.text
    # the record read from the server is the record the EHR would have sent: the same advice
    assert [(c["indicator"], c["summary"]) for c in cards] == [
        (c["indicator"], c["summary"]) for c in sent.json()["cards"]
    ]
    assert _our_issues(server, tag) == []  # a hook call answers; it writes nothing


def test_a_hook_call_for_a_patient_the_server_does_not_hold_is_412_without_its_words(
    service: TestClient, server: FhirClient, tag: str
) -> None:
    request = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": server.base,
        "context": {"userId": "Practitioner/example", "patientId": f"nobody-{tag}"},
    }
    answer = service.post(f"/cds-services/{PATIENT_VIEW}", json=request)
    assert answer.status_code == 412, answer.text  # no advice on a record that could not be read
    (issue,) = answer.json()["issue"]
    assert "prefetch.patient" in issue["details"]["text"] and "404" in issue["details"]["text"]
    assert "HAPI-" not in issue["details"]["text"]  # the server's own words are not repeated
