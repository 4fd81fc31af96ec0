"""Errors become HTTP answers in one place: the table of ``http_errors``, route by route."""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks import http_errors
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.auth import Trust, TrustedClient
from fhir_resist.config import server_settings
from fhir_resist.errors import (
    CatalogueError,
    FeedbackError,
    FhirResistError,
    HttpError,
    InputError,
    ServerError,
    Unauthorized,
)
from fhir_resist.fhir.client import FhirClient, Retry
from tests.cdshooks.test_app import KRAS, OS, PV, hook_request
from tests.conftest import DATA, load_json
from tests.hapi import BASE, HapiMock

FEEDBACK = load_json(DATA / "cds-hooks" / "spec-2.0.1" / "feedback-overridden.json")
NOT_JSON: dict[str, Any] = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
TOO_BIG: dict[str, Any] = {
    "content": b"{" + b" " * 3000 + b"}",
    "headers": {"Content-Type": "application/json"},
}


# ---- the table, without HTTP ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (HttpError(412, "prefetch.x: no", expression="prefetch.x"), 412, "prefetch.x: no"),
        (Unauthorized("jti replayed"), 401, "unauthorised"),  # the reason is for the log only
        (
            ServerError("GET Patient: the server answered 503: <html>secret</html>", status=503),
            502,
            "the FHIR server could not be read: it answered 503",
        ),
        (FeedbackError("feedback.0.outcome: bad"), 400, "feedback.0.outcome: bad"),
        (InputError("not a Bundle", where="body"), 400, "body: not a Bundle"),
        (CatalogueError(["rules/x.yaml:1: broken"]), 400, "rules/x.yaml:1: broken"),
    ],
    ids=["http-error", "unauthorized", "server-error", "feedback-error", "input-error", "other"],
)
def test_each_error_type_has_its_http_error(error: FhirResistError, status: int, message: str) -> None:
    answered = http_errors.http_error_of(error)
    assert answered.status == status
    assert answered.message.startswith(message)
    assert "jti" not in answered.message and "secret" not in answered.message
    assert (answered.headers == {"WWW-Authenticate": "Bearer"}) is isinstance(error, Unauthorized)


def test_an_http_error_is_answered_as_it_is() -> None:
    error = HttpError(404, "no service 'x'")
    assert http_errors.http_error_of(error) is error


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalid"),
        (401, "security"),
        (404, "exception"),
        (412, "processing"),
        (413, "too-costly"),
        (422, "invalid"),
        (500, "exception"),
        (502, "exception"),
        (429, "throttled"),
        (503, "exception"),
    ],
)
def test_the_outcome_issue_code_of_each_status(status: int, code: str) -> None:
    outcome = http_errors.outcome(HttpError(status, "why", expression="context.patientId"))
    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": code,
                "details": {"text": "why"},
                "expression": ["context.patientId"],
            }
        ],
    }


def test_an_http_error_crosses_processes_whole() -> None:
    error = HttpError(412, "m", expression="prefetch.reports", headers={"Retry-After": "1"})
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status, copy.message, copy.expression, copy.headers, str(copy)) == (
        412,
        "m",
        "prefetch.reports",
        {"Retry-After": "1"},
        "m",
    )


def test_the_app_answers_every_type_of_the_table_with_the_one_handler(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    app = create_app(ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl"), catalogue=catalogue)
    for kind in http_errors.TABLE:
        assert app.exception_handlers[kind] is http_errors.answer
    assert FhirResistError in http_errors.TABLE  # every error of the hierarchy has an answer


# ---- each route through HTTP ---------------------------------------------------------------------


@pytest.fixture
def apps(tmp_path: Path, catalogue: Catalogue, hapi: HapiMock) -> Iterator[dict[str, TestClient]]:
    """The service without authentication, with small limits, with authentication, without a FHIR
    server or with one that is not a URL, and with a feedback file that cannot be written."""

    def report_client() -> FhirClient:
        return FhirClient(BASE, retry=Retry(attempts=2, backoff=0.001))

    server = server_settings({}, base=BASE, outbox=str(tmp_path / "outbox"))
    blocked = tmp_path / "file"
    blocked.write_text("")
    settings = {
        "open": ServiceSettings(auth="off", feedback_path=tmp_path / "a.jsonl", server=server),
        "small": ServiceSettings(
            auth="off", feedback_path=tmp_path / "b.jsonl", server=server, max_body=2000
        ),
        "guarded": ServiceSettings(
            auth="jwt",
            trust=Trust.of(TrustedClient("https://ehr.example")),
            public_url="http://testserver",
            reports_token="secret",
            feedback_path=tmp_path / "c.jsonl",
        ),
        "bare": ServiceSettings(auth="off", feedback_path=tmp_path / "d.jsonl", server=server_settings({})),
        "misconfigured": ServiceSettings(
            auth="off", feedback_path=tmp_path / "e.jsonl", server=server_settings({}, base="hapi.test/fhir")
        ),
        "unwritable": ServiceSettings(auth="off", feedback_path=blocked / "feedback.jsonl"),
    }
    clients = {"open": report_client}
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(
                TestClient(create_app(s, catalogue=catalogue, report_client=clients.get(name)))
            )
            for name, s in settings.items()
        }


_NO_SERVER = {k: v for k, v in hook_request("patient-view", load_json(KRAS)).items() if k != "prefetch"}
_WRONG_HOOK = {"hook": "order-sign", "hookInstance": "1", "context": {"patientId": "p"}}
_NO_PATIENT = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [{"resource": {"resourceType": "Observation"}}],
}
_MISSING_REPORT = {
    "resourceType": "Bundle",
    "type": "history",
    "entry": [{"fullUrl": f"{BASE}/DiagnosticReport/missing"}],
}

CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (app, method, path, request, status, issue code)
    ("guarded", "GET", "/cds-services", {}, 401, "security"),
    ("open", "POST", "/cds-services/nope", {"json": {}}, 404, "exception"),
    ("guarded", "POST", f"/cds-services/{PV}", {"json": {}}, 401, "security"),
    ("small", "POST", f"/cds-services/{PV}", TOO_BIG, 413, "too-costly"),
    ("open", "POST", f"/cds-services/{PV}", NOT_JSON, 400, "invalid"),
    ("open", "POST", f"/cds-services/{PV}", {"json": _WRONG_HOOK}, 400, "invalid"),
    ("open", "POST", f"/cds-services/{PV}", {"json": _NO_SERVER}, 412, "processing"),
    ("open", "POST", "/cds-services/nope/feedback", {"json": FEEDBACK}, 404, "exception"),
    ("guarded", "POST", f"/cds-services/{OS}/feedback", {"json": FEEDBACK}, 401, "security"),
    ("small", "POST", f"/cds-services/{OS}/feedback", TOO_BIG, 413, "too-costly"),
    ("open", "POST", f"/cds-services/{OS}/feedback", NOT_JSON, 400, "invalid"),
    ("open", "POST", f"/cds-services/{OS}/feedback", {"json": {"feedback": []}}, 400, "invalid"),
    ("unwritable", "POST", f"/cds-services/{OS}/feedback", {"json": FEEDBACK}, 500, "exception"),
    ("guarded", "POST", "/reports", {"json": {}}, 401, "security"),
    (
        "guarded",
        "POST",
        "/reports",
        {"json": {}, "headers": {"Authorization": "Bearer nope"}},
        401,
        "security",
    ),
    ("small", "POST", "/reports", TOO_BIG, 413, "too-costly"),
    ("open", "POST", "/reports", NOT_JSON, 400, "invalid"),
    ("bare", "POST", "/reports", {"json": load_json(KRAS)}, 503, "exception"),
    ("misconfigured", "POST", "/reports", {"json": load_json(KRAS)}, 503, "exception"),
    ("open", "POST", "/reports", {"json": _NO_PATIENT}, 400, "invalid"),
    ("open", "POST", "/reports", {"json": _MISSING_REPORT}, 422, "invalid"),
]


@pytest.mark.parametrize(
    ("app", "method", "path", "request_", "status", "code"),
    CASES,
    ids=[f"{m} {p} {s} ({a})" for a, m, p, _, s, _ in CASES],
)
def test_each_route_answers_its_errors_with_an_operation_outcome(
    apps: dict[str, TestClient],
    app: str,
    method: str,
    path: str,
    request_: dict[str, Any],
    status: int,
    code: str,
) -> None:
    answer = apps[app].request(method, path, **request_)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    ((issue),) = body["issue"]
    assert (issue["severity"], issue["code"]) == ("error", code)
    assert issue["details"]["text"]
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert issue["details"]["text"] == "unauthorised"
    else:
        assert "WWW-Authenticate" not in answer.headers


def test_refused_callers_are_counted_on_every_route(apps: dict[str, TestClient]) -> None:
    guarded = apps["guarded"]
    guarded.get("/cds-services")
    guarded.post(f"/cds-services/{PV}", json={})
    guarded.post(f"/cds-services/{OS}/feedback", json=FEEDBACK)
    guarded.post("/reports", json={})
    assert "fhir_resist_unauthorised_total{} 4" in guarded.get("/metrics").text


def test_a_fhir_server_that_cannot_be_read_is_502_and_counted(
    apps: dict[str, TestClient], hapi: HapiMock
) -> None:
    hapi.fail(times=20, method="GET", status=503)
    answer = apps["open"].post("/reports", json=load_json(KRAS))
    assert answer.status_code == 502
    (issue,) = answer.json()["issue"]
    assert issue["details"]["text"].startswith("the FHIR server could not be read: ")
    assert 'fhir_resist_reports_total{outcome="unreadable"} 1' in apps["open"].get("/metrics").text


def test_any_other_refusal_of_a_posted_report_is_400(
    apps: dict[str, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise InputError("not understood", where="Bundle.entry[0]")

    monkeypatch.setattr("fhir_resist.cdshooks.reports.handle", refuse)
    answer = apps["open"].post("/reports", json=load_json(KRAS))
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["details"]["text"] == "Bundle.entry[0]: not understood"


def test_hook_refusals_are_counted_by_status(apps: dict[str, TestClient]) -> None:
    client = apps["small"]
    client.post(f"/cds-services/{PV}", **NOT_JSON)
    client.post(f"/cds-services/{PV}", json=_NO_SERVER)
    client.post(f"/cds-services/{PV}", **TOO_BIG)  # refused before it was read: not counted as a call
    metrics = client.get("/metrics").text
    assert f'fhir_resist_hook_calls_total{{service="{PV}",status="400"}} 1' in metrics
    assert f'fhir_resist_hook_calls_total{{service="{PV}",status="412"}} 1' in metrics
    assert "413" not in metrics
