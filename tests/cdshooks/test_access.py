"""Where a hook call may fetch from, through HTTP: the configured FHIR servers only; a refused or
failing server is answered without repeating its answer; tokens are never logged or echoed."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.auth import Trust
from fhir_resist.config import server_settings
from fhir_resist.fhir.client import FhirClient, Retry
from tests.cdshooks.test_app import KRAS, PV, hook_request
from tests.conftest import load_json
from tests.hapi import BASE, HapiMock

TOKEN = "EHR-ACCESS-TOKEN-5f1c"


def _client(base: str, token: str | None) -> FhirClient:
    return FhirClient(base, token=token, retry=Retry(attempts=1))


def _fetching(fhir_server: str, token: str = TOKEN) -> dict[str, Any]:
    """A patient-view call that brings no prefetch: everything is fetched from ``fhir_server``."""
    request = hook_request("patient-view", load_json(KRAS))
    del request["prefetch"]
    request["fhirServer"] = fhir_server
    request["fhirAuthorization"] = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
    }
    return request


def _app(tmp_path: Path, catalogue: Catalogue, env: dict[str, str]) -> TestClient:
    settings = ServiceSettings(
        auth="off",
        trust=Trust.from_env(env),
        feedback_path=tmp_path / "feedback.jsonl",
        server=server_settings({}, outbox=str(tmp_path / "outbox")),
        deadline=20,
    )
    return TestClient(create_app(settings, catalogue=catalogue, client_factory=_client))


@pytest.fixture
def guarded(tmp_path: Path, catalogue: Catalogue) -> Iterator[TestClient]:
    """Authentication off, ``FHIR_RESIST_CDS_FHIR_SERVERS`` naming the HAPI mock's base only."""
    with _app(tmp_path, catalogue, {"FHIR_RESIST_CDS_FHIR_SERVERS": BASE}) as client:
        yield client


@pytest.mark.parametrize(
    "elsewhere",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://hapi.test/admin",
        "http://hapi.test:8080/fhir",
        "https://hapi.test/fhir",
        "http://hapi.test/fhirx",
    ],
)
def test_a_fhir_server_off_the_list_gets_no_request_and_no_token(
    guarded: TestClient, hapi: HapiMock, caplog: pytest.LogCaptureFixture, elsewhere: str
) -> None:
    hapi.rsps.get(
        re.compile(r"https?://(169\.254\.169\.254|hapi\.test:\d+|hapi\.test/(?!fhir/)).*"), body="SECRET"
    )
    with caplog.at_level(logging.INFO):
        answer = guarded.post(f"/cds-services/{PV}", json=_fetching(elsewhere))
    assert answer.status_code == 412, answer.text
    (issue,) = answer.json()["issue"]
    assert issue["expression"] == ["fhirServer"]
    assert "may fetch from" in issue["details"]["text"]
    assert hapi.calls == [] and len(hapi.rsps.calls) == 0  # nothing asked of any server
    assert TOKEN not in answer.text and TOKEN not in caplog.text


def test_a_listed_fhir_server_is_fetched_from(guarded: TestClient, hapi: HapiMock) -> None:
    answer = guarded.post(f"/cds-services/{PV}", json=_fetching(BASE + "/"))
    assert answer.status_code == 200, answer.text
    assert hapi.calls and all(url.startswith(BASE) for _, url, _ in hapi.calls)


def test_without_a_list_and_without_auth_any_server_may_be_named(
    tmp_path: Path, catalogue: Catalogue, hapi: HapiMock
) -> None:
    """Local development (authentication off, no FHIR_RESIST_CDS_FHIR_SERVERS): as before."""
    with _app(tmp_path, catalogue, {}) as client:
        assert client.post(f"/cds-services/{PV}", json=_fetching(BASE)).status_code == 200


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "http://exa mple", "https://", "http://127.0.0.1:99999/", "https://%zz/", "http://[/"],
)
def test_a_malformed_fhir_server_is_400_naming_it(guarded: TestClient, url: str) -> None:
    answer = guarded.post(f"/cds-services/{PV}", json=_fetching(url))
    assert answer.status_code == 400, answer.text
    (issue,) = answer.json()["issue"]
    assert issue["expression"] == ["fhirServer"]
    assert issue["details"]["text"].startswith("fhirServer: ")


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (500, "<html><body>INTERNAL-ADMIN-PANEL token=hunter2</body></html>", "text/html"),
        (200, "SECRET-INTERNAL-DATA root:x:0:0 aws_secret_access_key=AKIAEXAMPLE", "text/plain"),
        (
            404,
            '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found",'
            '"diagnostics":"HAPI-2001: Resource Patient/pat-1 is not known hunter2"}]}',
            "application/fhir+json",
        ),
    ],
    ids=["html-500", "text-200", "outcome-404"],
)
def test_the_412_states_the_status_never_the_servers_answer(
    guarded: TestClient,
    hapi: HapiMock,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: str,
    content_type: str,
) -> None:
    hapi.fail(status=status, body=body, content_type=content_type)
    with caplog.at_level(logging.INFO):
        answer = guarded.post(f"/cds-services/{PV}", json=_fetching(BASE))
    assert answer.status_code == 412, answer.text
    text = answer.json()["issue"][0]["details"]["text"]
    assert f"HTTP {status}" in text
    for secret in ("hunter2", "INTERNAL", "AKIAEXAMPLE", "root:x", "Patient/pat-1"):
        assert secret not in answer.text
        assert secret not in caplog.text  # the log has the status, not the body
    assert f"status {status}" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("token", [f"{TOKEN}\nX-Injected: y", f"{TOKEN} more", "日本語トークン"])
def test_an_access_token_a_header_cannot_carry_is_400_without_trace_or_echo(
    guarded: TestClient, hapi: HapiMock, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = guarded.post(f"/cds-services/{PV}", json=_fetching(BASE, token))
    assert answer.status_code == 400, answer.text
    (issue,) = answer.json()["issue"]
    assert issue["expression"] == ["fhirAuthorization.access_token"]
    assert hapi.calls == []  # refused before anything is fetched
    for part in (TOKEN, "X-Injected", "日本語"):
        assert part not in answer.text and part not in caplog.text
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
