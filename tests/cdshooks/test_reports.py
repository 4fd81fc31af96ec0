"""``POST /reports``: posted report Bundles and Subscription notifications, written back once or kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.config import server_settings
from fhir_resist.fhir.client import FhirClient, Retry
from fhir_resist.fhir.outbox import Outbox
from tests.conftest import SCENARIOS, load_json
from tests.hapi import BASE, HapiMock

KRAS = SCENARIOS / "crc-kras-g12d-cetuximab.json"
OURS = ("Device", "DetectedIssue", "RequestGroup", "GuidanceResponse", "Provenance")


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


@pytest.fixture
def client(tmp_path: Path, catalogue: Catalogue, outbox: Outbox) -> Iterator[TestClient]:
    settings = ServiceSettings(
        auth="off",
        feedback_path=tmp_path / "feedback.jsonl",
        server=server_settings({}, base=BASE, outbox=str(outbox.directory)),
    )

    def report_client() -> FhirClient:
        return FhirClient(BASE, retry=Retry(attempts=2, backoff=0.001))

    with TestClient(create_app(settings, catalogue=catalogue, report_client=report_client)) as test_client:
        yield test_client


def _ours(hapi: HapiMock) -> dict[str, int]:
    return {kind: len(hapi.all(kind)) for kind in OURS}


def test_a_posted_report_is_written_once_even_if_posted_twice(client: TestClient, hapi: HapiMock) -> None:
    first = client.post("/reports", json=load_json(KRAS))
    assert first.status_code == 200, first.text
    (result,) = first.json()["results"]
    assert result["patient"] == "Patient/pat-1" and result["issues"] == 1
    assert result["delivery"]["outcome"] == "delivered"
    assert {w["status"] for w in result["delivery"]["written"]} == {"201 Created"}
    again = client.post("/reports", json=load_json(KRAS))
    assert again.status_code == 200
    assert _ours(hapi) == dict.fromkeys(OURS, 1)


def test_the_same_report_posted_twice_at_once(client: TestClient, hapi: HapiMock) -> None:
    hapi.race_gap = 0.05
    codes: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: codes.append(client.post("/reports", json=load_json(KRAS)).status_code)
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200]
    assert _ours(hapi) == dict.fromkeys(OURS, 1)


def _notification(entries: list[dict[str, Any]]) -> dict[str, Any]:
    status = {
        "resourceType": "Parameters",
        "parameter": [{"name": "type", "valueCode": "event-notification"}],
    }
    return {"resourceType": "Bundle", "type": "history", "entry": [{"resource": status}, *entries]}


def test_subscription_notification_id_only(client: TestClient, hapi: HapiMock) -> None:
    body = _notification([{"fullUrl": f"{BASE}/DiagnosticReport/dr-1"}])
    answer = client.post("/reports", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["issues"] == 1
    assert any(url.endswith("/DiagnosticReport/dr-1") for method, url, _ in hapi.calls if method == "GET")
    assert _ours(hapi)["DetectedIssue"] == 1


def test_bare_diagnostic_report_is_read_from_the_server(client: TestClient, hapi: HapiMock) -> None:
    answer = client.post(
        "/reports", json={"resourceType": "DiagnosticReport", "id": "dr-1", "status": "final"}
    )
    assert answer.status_code == 200, answer.text
    assert _ours(hapi)["DetectedIssue"] == 1


def test_server_down_while_writing_is_202_and_kept(
    client: TestClient, hapi: HapiMock, outbox: Outbox
) -> None:
    hapi.fail(times=2, method="POST", status=503)
    answer = client.post("/reports", json=load_json(KRAS))
    assert answer.status_code == 202
    assert answer.json()["results"][0]["delivery"]["outcome"] == "queued"
    (item,), _ = outbox.items()
    assert item.state == "pending"


def test_refused_write_is_502_and_kept_with_the_reason(
    client: TestClient, hapi: HapiMock, outbox: Outbox
) -> None:
    report = load_json(KRAS)
    for entry in report["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] != "Patient" and "subject" in resource:
            resource["subject"] = {"reference": "Patient/elsewhere"}
        if resource["resourceType"] == "Patient":
            resource["id"] = "elsewhere"
    answer = client.post("/reports", json=report)
    assert answer.status_code == 502
    delivery = answer.json()["results"][0]["delivery"]
    assert delivery["outcome"] == "rejected" and "HAPI-1094" in delivery["error"]
    assert outbox.items()[0][0].state == "rejected"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([1, 2], "not a FHIR resource"),
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, "no resources"),
        (_notification([]), "names no DiagnosticReport"),
        (
            {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": {"resourceType": "Observation"}}],
            },
            "names no patient",
        ),
    ],
)
def test_bad_posts_are_400(client: TestClient, hapi: HapiMock, body: Any, fragment: str) -> None:
    answer = client.post("/reports", json=body)
    assert answer.status_code == 400
    assert fragment in answer.text


def test_unknown_report_in_a_notification_is_422(client: TestClient, hapi: HapiMock) -> None:
    answer = client.post("/reports", json=_notification([{"fullUrl": f"{BASE}/DiagnosticReport/missing"}]))
    assert answer.status_code == 422
    assert "HAPI-2001" in answer.text


def test_without_a_fhir_server_reports_cannot_be_written(tmp_path: Path, catalogue: Catalogue) -> None:
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl", server=server_settings({}))
    with TestClient(create_app(settings, catalogue=catalogue)) as bare:
        answer = bare.post("/reports", json=load_json(KRAS))
        assert answer.status_code == 503
        assert "FHIR_RESIST_FHIR_BASE" in answer.text
