"""The HAPI mock (``tests/hapi.py``) against the real server: the same requests, the same answers.

Each case sends one scripted conversation to the real server named by ``FHIR_RESIST_TEST_SERVER``
and to the mock, and compares what a client can observe: status codes, which headers are there,
ETags, HAPI's error codes (``HAPI-NNNN``), and the shape of bundles. Ids the server assigns and
times differ by nature and are left out. A difference found here is a difference to fix in the
mock, so that the fast suite keeps telling the truth about HAPI.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses

from tests.hapi import BASE, HapiMock

SERVER = os.environ.get("FHIR_RESIST_TEST_SERVER")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not SERVER, reason="set FHIR_RESIST_TEST_SERVER to a FHIR R4 base URL"),
]
JSON = dict[str, Any]
HEADERS = ("Location", "Content-Location", "ETag", "Last-Modified", "X-Request-ID", "X-Powered-By")
FHIR = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
_CODES = re.compile(r"HAPI-\d{4}")


class Http:
    """Requests to one FHIR base, each answer reduced to what the comparison looks at."""

    def __init__(self, base: str, tag: str) -> None:
        self.base = base.rstrip("/")
        self.tag = tag
        self.session = requests.Session()

    def __call__(
        self, method: str, path: str, body: JSON | None = None, headers: dict[str, str] | None = None
    ) -> JSON:
        url = path if path.startswith("http") else f"{self.base}/{path}"
        response = self.session.request(method, url, json=body, headers={**FHIR, **(headers or {})})
        return self.observed(response)

    def observed(self, response: requests.Response) -> JSON:
        body = response.json() if response.content else None
        seen: JSON = {
            "status": response.status_code,
            "headers": sorted(h for h in HEADERS if h in response.headers),
            "etag": response.headers.get("ETag"),
            "content-type": response.headers.get("Content-Type", "").lower().replace(" ", ""),
        }
        if isinstance(body, dict):
            seen["resourceType"] = body.get("resourceType")
            seen["versionId"] = (body.get("meta") or {}).get("versionId")
            if body.get("resourceType") == "OperationOutcome":
                seen["codes"] = [_CODES.findall(i.get("diagnostics", "")) for i in body.get("issue", [])]
                seen["severity"] = [(i.get("severity"), i.get("code")) for i in body.get("issue", [])]
            if body.get("resourceType") == "Bundle":
                seen["bundle"] = _bundle_shape(body)
        return seen


def _bundle_shape(bundle: JSON) -> JSON:
    entries = bundle.get("entry") or []
    return {
        "type": bundle.get("type"),
        "total": bundle.get("total"),
        "links": sorted(link["relation"] for link in bundle.get("link") or []),
        "entries": [
            {
                "status": (e.get("response") or {}).get("status"),
                "location": bool((e.get("response") or {}).get("location")),
                "etag": (e.get("response") or {}).get("etag"),
                "outcome": ((e.get("response") or {}).get("outcome") or {}).get("resourceType"),
                "resource": (e.get("resource") or {}).get("resourceType"),
                "mode": (e.get("search") or {}).get("mode"),
            }
            for e in entries
        ],
    }


def _both(conversation: Callable[[Http], list[JSON]]) -> tuple[list[JSON], list[JSON]]:
    assert SERVER
    tag = uuid.uuid4().hex[:8]
    real = conversation(Http(SERVER, tag))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(SERVER)
        HapiMock(rsps)
        mocked = conversation(Http(BASE, tag))
    return real, mocked


def _patient(pid: str, **extra: Any) -> JSON:
    return {"resourceType": "Patient", "id": pid, **extra}


def _observation(oid: str, patient: str) -> JSON:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "69548-6"}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


def _updates(http: Http) -> list[JSON]:
    pid = f"p-{http.tag}"
    return [
        http("PUT", f"Patient/{pid}", _patient(pid)),
        http("PUT", f"Patient/{pid}", _patient(pid)),
        http("PUT", f"Patient/{pid}", _patient(pid, active=True)),
        http("PUT", f"Patient/{pid}", _patient(pid, active=False), {"If-Match": 'W/"1"'}),
        http("PUT", f"Patient/{pid}", _patient(pid, active=False), {"If-Match": 'W/"2"'}),
        http("GET", f"Patient/{pid}"),
        http("GET", f"Patient/{pid}/_history/1"),
        http("GET", f"Patient/{pid}/_history/9"),
        http("PUT", f"Patient/{pid}", _patient(f"other-{http.tag}")),
    ]


def _errors(http: Http) -> list[JSON]:
    return [
        http("GET", f"Patient/missing-{http.tag}"),
        http("GET", "Toothbrush/1"),
        http("PUT", "Patient/98765432101", _patient("98765432101")),
        http("PUT", f"Observation/o-{http.tag}", _observation(f"o-{http.tag}", f"missing-{http.tag}")),
        http("GET", f"Patient?nonsense={http.tag}"),
    ]


def _creates_and_deletes(http: Http) -> list[JSON]:
    ident = {"system": "urn:test", "value": http.tag}
    patient = {"resourceType": "Patient", "identifier": [ident]}
    match = {"If-None-Exist": f"identifier=urn:test|{http.tag}"}
    pid = f"d-{http.tag}"
    return [
        http("POST", "Patient", patient, match),
        http("POST", "Patient", patient, match),
        http("POST", "Patient", patient),
        http("POST", "Patient", patient, match),
        http("PUT", f"Patient/{pid}", _patient(pid)),
        http("DELETE", f"Patient/{pid}"),
        http("GET", f"Patient/{pid}"),
        http("DELETE", f"Patient/{pid}"),
    ]


def _transactions(http: Http) -> list[JSON]:
    pid = f"t-{http.tag}"
    observation = {k: v for k, v in _observation("ignored", pid).items() if k != "id"}
    good: JSON = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{http.base}/Patient/{pid}",
                "resource": _patient(pid),
                "request": {"method": "PUT", "url": f"Patient/{pid}"},
            },
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": observation,
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    bad = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{http.base}/Patient/x-{http.tag}",
                "resource": _patient(f"x-{http.tag}"),
                "request": {"method": "PUT", "url": f"Patient/x-{http.tag}"},
            },
            {
                "fullUrl": f"{http.base}/Observation/y-{http.tag}",
                "resource": _observation(f"y-{http.tag}", f"missing-{http.tag}"),
                "request": {"method": "PUT", "url": f"Observation/y-{http.tag}"},
            },
        ],
    }
    return [
        http("POST", "", good),
        http("POST", "", good),
        http("POST", "", bad),
        http("GET", f"Patient/x-{http.tag}"),
    ]


def _paging(http: Http) -> list[JSON]:
    pid = f"pg-{http.tag}"
    http("PUT", f"Patient/{pid}", _patient(pid))
    for n in range(5):
        http("PUT", f"Observation/o{n}-{http.tag}", _observation(f"o{n}-{http.tag}", pid))
    first = http.session.get(f"{http.base}/Observation", params={"patient": pid, "_count": "2"}, headers=FHIR)
    pages = [http.observed(first)]
    link = next((x["url"] for x in first.json().get("link", []) if x["relation"] == "next"), None)
    while link:
        page = http.session.get(link, headers=FHIR)
        pages.append(http.observed(page))
        link = next((x["url"] for x in page.json().get("link", []) if x["relation"] == "next"), None)
    pages.append(http("GET", f"Observation?patient={pid}&_summary=count"))
    pages.append(http("GET", f"Observation?patient=none-{http.tag}"))
    return pages


@pytest.mark.parametrize(
    "conversation",
    [_updates, _errors, _creates_and_deletes, _transactions, _paging],
    ids=lambda c: c.__name__.strip("_"),
)
def test_mock_answers_as_hapi(conversation: Callable[[Http], list[JSON]]) -> None:
    real, mocked = _both(conversation)
    assert len(real) == len(mocked)
    for n, (want, got) in enumerate(zip(real, mocked, strict=True)):
        assert got == want, f"request {n} of {conversation.__name__}"
