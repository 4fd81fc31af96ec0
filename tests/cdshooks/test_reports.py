"""``POST /reports``: posted report Bundles and Subscription notifications, written back once or kept."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.config import server_settings
from fhir_resist.errors import InputError
from fhir_resist.fhir.client import FhirClient, Retry
from fhir_resist.fhir.outbox import Outbox
from tests.conftest import SCENARIOS, load_json, renamed
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


def test_a_result_neither_written_nor_kept_is_503_so_the_poster_sends_again(
    client: TestClient, hapi: HapiMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("fhir_resist.fhir.outbox.atomic_write", full)
    hapi.fail(times=2, method="POST", status=503)
    answer = client.post("/reports", json=load_json(KRAS))
    assert answer.status_code == 503
    assert answer.json()["results"][0]["delivery"]["outcome"] == "unsaved"


def test_a_service_whose_outbox_cannot_be_written_does_not_start(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    settings = ServiceSettings(
        auth="off",
        feedback_path=tmp_path / "feedback.jsonl",
        server=server_settings({}, base=BASE, outbox=str(blocked / "outbox")),
    )
    with pytest.raises(InputError, match=r"outbox directory .* is not writable"):
        create_app(settings, catalogue=catalogue)


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


WAIT = 60.0  # seconds a test waits for what must happen (never a measured figure)


def _many(patients: int) -> dict[str, Any]:
    """One posted Bundle holding the scenario's report for ``patients`` patients."""
    base = load_json(KRAS)
    entries = [e for n in range(patients) for e in renamed(base, f"p{n}")["entry"]]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_a_report_naming_more_patients_than_the_limit_is_413_before_any_fetch(
    client: TestClient, hapi: HapiMock
) -> None:
    answer = client.post("/reports", json=_many(21))
    assert answer.status_code == 413
    (issue,) = answer.json()["issue"]
    assert issue["code"] == "too-costly"
    assert issue["details"]["text"].startswith("the body names 21 patients; at most 20 may be posted at once")
    assert "FHIR_RESIST_REPORT_PATIENTS" in issue["details"]["text"]
    assert hapi.calls == []


def test_a_notification_of_more_reports_than_the_limit_is_413_before_any_fetch(
    client: TestClient, hapi: HapiMock
) -> None:
    body = _notification([{"fullUrl": f"{BASE}/DiagnosticReport/dr-{n}"} for n in range(21)])
    answer = client.post("/reports", json=body)
    assert answer.status_code == 413
    assert "21 DiagnosticReports" in answer.json()["issue"][0]["details"]["text"]
    assert hapi.calls == []


class HeldFirst(requests.Session):
    """The FHIR server's first answer held back until ``gate`` is set; then every request as sent."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.held = threading.Event()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        if not self.held.is_set():
            self.held.set()
            self.gate.wait(WAIT)
        return super().request(*args, **kwargs)


def _held_app(
    tmp_path: Path, catalogue: Catalogue, outbox: Outbox, session: HeldFirst, **settings: Any
) -> TestClient:
    service_settings = ServiceSettings(
        auth="off",
        feedback_path=tmp_path / "feedback.jsonl",
        server=server_settings({}, base=BASE, outbox=str(outbox.directory)),
        **settings,
    )

    def report_client() -> FhirClient:
        return FhirClient(BASE, retry=Retry(attempts=2, backoff=0.001), session=session)

    app = create_app(
        service_settings, catalogue=catalogue, report_client=report_client, limits=Limits(reports_at_once=1)
    )
    return TestClient(app)


def test_reports_beyond_those_evaluated_at_once_are_429(
    tmp_path: Path, catalogue: Catalogue, outbox: Outbox, hapi: HapiMock
) -> None:
    session = HeldFirst()
    with _held_app(tmp_path, catalogue, outbox, session, deadline=WAIT) as client:
        first = threading.Thread(target=client.post, args=("/reports",), kwargs={"json": load_json(KRAS)})
        first.start()
        try:
            assert session.held.wait(WAIT)
            assert "fhir_resist_reports_in_flight 1\n" in client.get("/metrics").text
            busy = client.post("/reports", json=load_json(KRAS))
            assert busy.status_code == 429
            assert busy.headers["Retry-After"] == str(int(WAIT))
            assert "1 reports are being evaluated" in busy.json()["issue"][0]["details"]["text"]
        finally:
            session.gate.set()
            first.join(WAIT)
        again = client.post("/reports", json=load_json(KRAS))
        assert again.status_code == 200, again.text
        metrics = client.get("/metrics").text
        assert "fhir_resist_reports_in_flight 0\n" in metrics
        assert 'fhir_resist_report_work_total{ended="finished"} 2' in metrics


def test_work_after_a_202_is_counted_and_stops_with_the_service(
    tmp_path: Path, catalogue: Catalogue, outbox: Outbox, hapi: HapiMock
) -> None:
    session = HeldFirst()
    for n in range(3):
        hapi.seed(renamed(load_json(KRAS), f"p{n}"))
    with _held_app(tmp_path, catalogue, outbox, session, deadline=0.1) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        try:
            answer = client.post("/reports", json=_many(3))
            assert answer.status_code == 202
            assert answer.json()["status"] == "accepted"
            metrics = client.get("/metrics").text
            assert "fhir_resist_reports_in_flight 1\n" in metrics
            assert 'fhir_resist_reports_total{outcome="still_evaluating"} 1' in metrics
            service.close()  # the service stops while the first patient's record is being read
        finally:
            session.gate.set()
        until = time.monotonic() + WAIT
        while service.reports.held():
            assert time.monotonic() < until, "the report's work did not end"
            time.sleep(0.01)
        metrics = client.get("/metrics").text
        assert 'fhir_resist_report_work_total{ended="stopped"} 1' in metrics
    patients = {g["subject"]["reference"] for g in hapi.all("GuidanceResponse")}
    assert patients == {"Patient/pat-1-p0"}  # the first patient delivered; the others never fetched
    assert not [url for _, url, _ in hapi.calls if "pat-1-p1" in url or "pat-1-p2" in url]
