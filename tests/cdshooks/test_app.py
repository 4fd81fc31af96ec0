"""The HTTP service through FastAPI's TestClient: discovery, hooks, prefetch vs fetch, feedback, limits."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.auth import Caller, Trust, Verifier
from fhir_resist.cdshooks.hook_services import PREFETCH
from fhir_resist.config import server_settings
from fhir_resist.errors import Unauthorized
from fhir_resist.fhir.client import FhirClient, Retry
from tests.cdshooks import conformance
from tests.conftest import DATA, SCENARIOS, load_json
from tests.hapi import BASE, HapiMock

CDS = DATA / "cds-hooks"
KRAS = SCENARIOS / "crc-kras-g12d-cetuximab.json"
PV, OS, OSIGN = "fhir-resist-patient-view", "fhir-resist-order-select", "fhir-resist-order-sign"


def _resources(bundle: dict[str, Any], *kinds: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] in kinds]


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def prefetch_of(bundle: dict[str, Any], *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """What an EHR would prefetch for the scenario patient, key by key."""
    kinds = {
        "conditions": ("Condition",),
        "medicationRequests": ("MedicationRequest", "Medication"),
        "medicationStatements": ("MedicationStatement",),
        "medicationAdministrations": ("MedicationAdministration",),
        "reports": ("DiagnosticReport", "Observation", "Specimen"),
        "genomicObservations": ("Observation",),
    }
    out: dict[str, Any] = {"patient": _resources(bundle, "Patient")[0]}
    for key, types in kinds.items():
        out[key] = _searchset(_resources(bundle, *types))
    for key in without:
        out.pop(key, None)
    return out


def hook_request(hook: str, bundle: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": "pat-1"},
        "prefetch": prefetch_of(bundle),
        **extra,
    }


def draft(code: str, display: str, rid: str = "draft-1") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code, "display": display}
            ]
        },
        "subject": {"reference": "Patient/pat-1"},
    }


def order_request(hook: str, order: dict[str, Any]) -> dict[str, Any]:
    """A KRAS-mutant colorectal cancer patient on no targeted drug, with ``order`` being written."""
    bundle = load_json(KRAS)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "MedicationRequest"]
    request = hook_request(hook, bundle)
    request["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": order}],
    }
    if hook == "order-select":
        request["context"]["selections"] = [f"MedicationRequest/{order['id']}"]
    return request


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    server = server_settings({}, base=BASE, outbox=str(tmp_path / "outbox"))
    return ServiceSettings(auth="off", feedback_path=tmp_path / "feedback.jsonl", server=server, deadline=20)


@pytest.fixture
def client(settings: ServiceSettings, catalogue: Catalogue) -> Iterator[TestClient]:
    with TestClient(create_app(settings, catalogue=catalogue)) as test_client:
        yield test_client


def test_discovery(client: TestClient) -> None:
    answer = client.get("/cds-services")
    assert answer.status_code == 200
    doc = answer.json()
    assert conformance.discovery(doc) == []
    assert conformance.discovery(load_json(CDS / "spec-2.0.1" / "discovery-response.json")) == []
    assert {s["hook"]: s["id"] for s in doc["services"]} == {
        "patient-view": PV,
        "order-select": OS,
        "order-sign": OSIGN,
    }
    for service in doc["services"]:
        assert service["title"] and service["usageRequirements"]
        assert service["prefetch"] == PREFETCH
        for template in service["prefetch"].values():
            tokens = {t.split("}}")[0] for t in template.split("{{")[1:]}
            assert tokens == {"context.patientId"}  # only prefetch tokens the hooks allow


def test_patient_view_with_prefetch(client: TestClient) -> None:
    answer = client.post(f"/cds-services/{PV}", json=hook_request("patient-view", load_json(KRAS)))
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert conformance.response(doc) == []
    first = doc["cards"][0]
    assert first["indicator"] == "warning"  # a therapy the patient is on, not one being ordered
    assert first["summary"].startswith("cetuximab unlikely to work: KRAS p.G12D")
    for heading in ("**Finding.**", "**Mechanism.**", "**Timing.**", "**Evidence.**", "**Alternatives.**"):
        assert heading in first["detail"]
    assert first["detail"].index("**Finding.**") < first["detail"].index("**Alternatives.**")
    assert "catalogue" in first["source"]["label"]
    assert "url" not in first["source"]  # no public URL configured: no page to link to
    assert "suggestions" not in first  # nothing to replace on patient-view
    assert len({c["uuid"] for c in doc["cards"]}) == len(doc["cards"])


def test_order_select_cetuximab_for_kras_mutant_crc(client: TestClient, catalogue: Catalogue) -> None:
    answer = client.post(
        f"/cds-services/{OS}", json=order_request("order-select", draft("318341", "cetuximab"))
    )
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert conformance.response(doc) == []
    (card,) = doc["cards"]
    assert card["indicator"] == "critical"
    assert card["selectionBehavior"] == "at-most-one"
    assert card["overrideReasons"] and all(r["display"] for r in card["overrideReasons"])
    first = card["suggestions"][0]
    assert first["isRecommended"] is True
    delete, *creates = first["actions"]
    assert delete == {
        "type": "delete",
        "description": "Remove the draft order for cetuximab",
        "resourceId": "MedicationRequest/draft-1",
    }
    bevacizumab = catalogue.drugs["bevacizumab"].codes.rxnorm
    created = [c["code"] for a in creates for c in a["resource"]["medicationCodeableConcept"]["coding"]]
    assert bevacizumab in created
    for action in creates:
        assert action["type"] == "create"
        assert action["description"].startswith("Draft an order for bevacizumab (with fluoropyrimidine")
        assert action["resource"]["status"] == "draft"
        assert action["resource"]["subject"] == {"reference": "Patient/pat-1"}


def test_order_select_bevacizumab_gives_no_card(client: TestClient, catalogue: Catalogue) -> None:
    bev = catalogue.drugs["bevacizumab"].codes.rxnorm
    assert bev
    answer = client.post(f"/cds-services/{OS}", json=order_request("order-select", draft(bev, "bevacizumab")))
    assert answer.status_code == 200
    assert answer.json() == {"cards": []}


def test_order_select_speaks_only_of_the_selection(client: TestClient) -> None:
    request = order_request("order-select", draft("318341", "cetuximab"))
    request["context"]["selections"] = ["MedicationRequest/other"]
    assert client.post(f"/cds-services/{OS}", json=request).json() == {"cards": []}


def test_order_sign_cetuximab(client: TestClient) -> None:
    answer = client.post(
        f"/cds-services/{OSIGN}", json=order_request("order-sign", draft("318341", "cetuximab"))
    )
    (card,) = answer.json()["cards"]
    assert card["indicator"] == "critical"


def test_spec_order_select_context_is_accepted(client: TestClient) -> None:
    context = load_json(CDS / "hooks-library" / "order-select-context-r4.json")["context"]
    request = {
        "hook": "order-select",
        "hookInstance": "x",
        "context": context,
        "prefetch": dict.fromkeys(PREFETCH),
    }
    answer = client.post(f"/cds-services/{OS}", json=request)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"cards": []}  # a diet and an amoxicillin order: nothing to say


def test_missing_prefetch_is_fetched_from_fhir_server_with_the_token(
    client: TestClient, hapi: HapiMock
) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    del request["prefetch"]
    request["fhirServer"] = BASE
    request["fhirAuthorization"] = {
        "access_token": "opaque-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read user/Observation.read",
        "subject": "fhir-resist",
    }
    answer = client.post(f"/cds-services/{PV}", json=request)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cards"][0]["summary"].startswith("cetuximab unlikely to work")
    assert len(hapi.calls) == len(PREFETCH)
    assert all(call.request.headers["Authorization"] == "Bearer opaque-token" for call in hapi.rsps.calls)


def test_fetch_without_a_token_sends_none(client: TestClient, hapi: HapiMock) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    request["prefetch"] = {k: v for k, v in request["prefetch"].items() if k != "conditions"}
    request["fhirServer"] = BASE
    answer = client.post(f"/cds-services/{PV}", json=request)
    assert answer.status_code == 200
    ((method, url, _),) = hapi.calls
    assert method == "GET" and "/Condition?" in url
    assert "Authorization" not in hapi.rsps.calls[0].request.headers


def test_null_prefetch_means_no_data_and_is_not_fetched(client: TestClient, hapi: HapiMock) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    request["prefetch"]["medicationStatements"] = None
    request["fhirServer"] = BASE
    assert client.post(f"/cds-services/{PV}", json=request).status_code == 200
    assert hapi.calls == []


def test_operation_outcome_in_prefetch_is_refetched(client: TestClient, hapi: HapiMock) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    request["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    request["fhirServer"] = BASE
    assert client.post(f"/cds-services/{PV}", json=request).status_code == 200
    assert len(hapi.calls) == 1


def test_412_when_data_can_be_had_neither_way(client: TestClient) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    del request["prefetch"]
    answer = client.post(f"/cds-services/{PV}", json=request)
    assert answer.status_code == 412
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert "fhirServer" in answer.json()["issue"][0]["details"]["text"]


def test_412_when_the_fhir_server_fails(client: TestClient, hapi: HapiMock) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    del request["prefetch"]["patient"]
    request["fhirServer"] = BASE
    hapi.fail(times=10, status=503)
    answer = client.post(f"/cds-services/{PV}", json=request)
    assert answer.status_code == 412


def test_paginated_prefetch_is_followed(client: TestClient, hapi: HapiMock) -> None:
    bundle = load_json(KRAS)
    request = hook_request("patient-view", bundle)
    observations = request["prefetch"]["reports"]
    page1 = copy.deepcopy(observations)
    page1["entry"] = page1["entry"][:1]
    hapi.page_size = 1
    page1["link"] = [{"relation": "next", "url": f"{BASE}/Observation?patient=pat-1"}]
    request["prefetch"]["reports"] = page1
    request["prefetch"]["genomicObservations"] = _searchset([])
    request["fhirServer"] = BASE
    answer = client.post(f"/cds-services/{PV}", json=request)
    assert answer.status_code == 200
    assert sum("_getpages" in url for _, url, _ in hapi.calls) == 1  # two pages of one
    assert answer.json()["cards"][0]["summary"].startswith("cetuximab unlikely to work")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"hook": "patient-view", "context": {"patientId": "p"}}).encode(), "hookInstance"),
        (
            json.dumps({"hook": "order-sign", "hookInstance": "1", "context": {"patientId": "p"}}).encode(),
            "hook:",
        ),
        (
            json.dumps({"hook": "patient-view", "hookInstance": "1", "context": {}}).encode(),
            "context.patientId",
        ),
        (
            json.dumps(
                {"hook": "patient-view", "hookInstance": "1", "context": {"patientId": "Patient/p"}}
            ).encode(),
            "bare FHIR patient id",
        ),
        *(
            (
                json.dumps(
                    {"hook": "patient-view", "hookInstance": "1", "context": {"patientId": bad}}
                ).encode(),
                "bare FHIR patient id",
            )
            for bad in ("../p", "p\nq", "p\u0000", "..", "p q", "x" * 65)
        ),
        (
            json.dumps(
                {
                    "hook": "patient-view",
                    "hookInstance": "1",
                    "context": {"patientId": "p"},
                    "fhirAuthorization": {
                        "access_token": "t",
                        "token_type": "Bearer",
                        "expires_in": 1,
                        "scope": "s",
                        "subject": "c",
                    },
                }
            ).encode(),
            "fhirServer",
        ),
        (
            json.dumps(
                {
                    "hook": "patient-view",
                    "hookInstance": "1",
                    "context": {"patientId": "p"},
                    "prefetch": {"patient": 3},
                }
            ).encode(),
            "prefetch.patient",
        ),
    ],
)
def test_malformed_hook_requests_are_400(client: TestClient, body: bytes, fragment: str) -> None:
    answer = client.post(f"/cds-services/{PV}", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert fragment in json.dumps(answer.json())


def test_a_lone_surrogate_in_the_body_is_read_as_replacement_character(client: TestClient) -> None:
    """ "\ud800" is valid JSON but not Unicode: read as U+FFFD, as the command line reads files."""
    body = b'{"hook": "order-sign\\ud800", "hookInstance": "1", "context": {"patientId": "p"}}'
    answer = client.post(f"/cds-services/{PV}", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "\ufffd" in answer.json()["issue"][0]["details"]["text"]


def test_order_select_without_draft_orders_is_400(client: TestClient) -> None:
    request = hook_request("order-select", load_json(KRAS))
    answer = client.post(f"/cds-services/{OS}", json=request)
    assert answer.status_code == 400
    assert "draftOrders" in answer.text


def test_unknown_service_is_404(client: TestClient) -> None:
    assert client.post("/cds-services/nope", json={}).status_code == 404


def test_body_and_resource_limits(tmp_path: Path, catalogue: Catalogue) -> None:
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl", max_body=2000, max_resources=3)
    with TestClient(create_app(settings, catalogue=catalogue)) as small:
        big = small.post(f"/cds-services/{PV}", content=b"{" + b" " * 3000 + b"}")
        assert big.status_code == 413
        many = {
            "hook": "patient-view",
            "hookInstance": "1",
            "context": {"patientId": "p"},
            "prefetch": {"x": _searchset([{"resourceType": "Observation"}] * 4)},
        }
        assert small.post(f"/cds-services/{PV}", json=many).status_code == 413


@pytest.mark.parametrize(
    "key", ["resource\\u0054ype", "\\u0072esourc\\u0065Typ\\u0065", "res\\u006furceType"]
)
def test_escaped_resource_type_keys_are_counted(tmp_path: Path, catalogue: Catalogue, key: str) -> None:
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl", max_resources=3)
    observation = '{"' + key + '":"Observation","status":"final"}'
    entries = ",".join('{"resource":' + observation + "}" for _ in range(4))
    body = (
        '{"hook":"patient-view","hookInstance":"1","context":{"patientId":"p"},'
        '"prefetch":{"x":{"resourceType":"Bundle","type":"searchset","entry":[' + entries + "]}}}"
    )
    assert json.loads(body)["prefetch"]["x"]["entry"][0]["resource"]["resourceType"] == "Observation"
    with TestClient(create_app(settings, catalogue=catalogue)) as small:
        answer = small.post(f"/cds-services/{PV}", content=body.encode())
    assert answer.status_code == 413
    assert "more than 3 resources" in answer.text


def test_an_aborted_upload_is_one_line_and_counted(
    tmp_path: Path, catalogue: Catalogue, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl"), catalogue=catalogue)
    part: dict[str, Any] = {"type": "http.request", "body": b'{"hook":', "more_body": True}
    messages = iter([part, {"type": "http.disconnect"}])
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/cds-services/{PV}",
        "raw_path": f"/cds-services/{PV}".encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"x")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    caplog.set_level("INFO")
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    (record,) = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert record.getMessage() == f"/cds-services/{PV}: the client disconnected after 8 bytes of the body"
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]
    assert "fhir_resist_aborted_uploads_total{} 1" in app.state.service.metrics.render()


def test_deadline(tmp_path: Path, catalogue: Catalogue) -> None:
    def slow(base: str, token: str | None) -> FhirClient:
        time.sleep(0.5)  # then fail fast, on a port nothing listens on
        return FhirClient("http://127.0.0.1:9", retry=Retry(attempts=1))

    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl", deadline=0.05)
    with TestClient(create_app(settings, catalogue=catalogue, client_factory=slow)) as hurried:
        request = hook_request("patient-view", load_json(KRAS))
        del request["prefetch"]
        request["fhirServer"] = BASE
        answer = hurried.post(f"/cds-services/{PV}", json=request)
        assert answer.status_code == 503


def test_cors_preflight(client: TestClient) -> None:
    answer = client.options(
        f"/cds-services/{PV}",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] in ("*", "https://sandbox.cds-hooks.org")
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()


def test_health_metrics_and_openapi(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["evaluators"] == "none"
    client.post(f"/cds-services/{PV}", json=hook_request("patient-view", load_json(KRAS)))
    text = client.get("/metrics").text
    assert f'fhir_resist_hook_calls_total{{service="{PV}",status="200"}} 1' in text
    assert "/cds-services/{service_id}" in client.get("/openapi.json").json()["paths"]


# ---- feedback ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["feedback-accepted", "feedback-overridden", "feedback-overridden-with-reason"]
)
def test_spec_feedback_is_recorded_once(client: TestClient, settings: ServiceSettings, name: str) -> None:
    body = load_json(CDS / "spec-2.0.1" / f"{name}.json")
    first = client.post(f"/cds-services/{OS}/feedback", json=body)
    assert first.status_code == 200
    assert first.json() == {"recorded": 1, "repeated": 0}
    assert client.post(f"/cds-services/{OS}/feedback", json=body).json() == {"recorded": 0, "repeated": 1}
    (line,) = settings.feedback_path.read_text().splitlines()
    record = json.loads(line)
    assert record["service"] == OS and record["feedback"]["card"] == body["feedback"][0]["card"]
    outcome = body["feedback"][0]["outcome"]
    assert (
        f'fhir_resist_feedback_total{{outcome="{outcome}",service="{OS}"}} 2' in client.get("/metrics").text
    )


@pytest.mark.parametrize(
    "item",
    [
        {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2021-12-11T10:05:31Z"},
        {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2021-12-11T10:05:31Z"},
        {
            "card": "c",
            "outcome": "overridden",
            "overrideReason": {},
            "outcomeTimestamp": "2021-12-11T10:05:31Z",
        },
        {"card": "c", "outcome": "overridden"},
    ],
)
def test_invalid_feedback_is_400(client: TestClient, item: dict[str, Any]) -> None:
    answer = client.post(f"/cds-services/{OS}/feedback", json={"feedback": [item]})
    assert answer.status_code == 400
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_feedback_that_cannot_be_stored_is_not_acknowledged(tmp_path: Path, catalogue: Catalogue) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings = ServiceSettings(auth="off", feedback_path=blocker / "feedback.jsonl")
    with TestClient(create_app(settings, catalogue=catalogue)) as broken:
        body = load_json(CDS / "spec-2.0.1" / "feedback-overridden.json")
        assert broken.post(f"/cds-services/{OS}/feedback", json=body).status_code == 500


@pytest.mark.parametrize(
    ("name", "service", "expected"),
    [
        (
            "patient-view",
            PV,
            [("warning", "cetuximab unlikely to work: KRAS p.G12D"), ("info", "Genomic findings")],
        ),
        ("order-select-cetuximab", OS, [("critical", "cetuximab unlikely to work: KRAS p.G12D")]),
        ("order-select-bevacizumab", OS, []),
    ],
)
def test_example_hook_requests(
    client: TestClient, name: str, service: str, expected: list[tuple[str, str]]
) -> None:
    from tests.conftest import EXAMPLES

    answer = client.post(f"/cds-services/{service}", json=load_json(EXAMPLES / "cds-hooks" / f"{name}.json"))
    assert answer.status_code == 200
    cards = answer.json()["cards"]
    assert conformance.response(answer.json()) == []
    assert [
        (c["indicator"], c["summary"][: len(s)]) for c, (_, s) in zip(cards, expected, strict=False)
    ] == expected
    assert len(cards) == len(expected)


# ---- the assessment cache of prefetch-only calls -------------------------------------------------


def test_the_same_prefetch_again_is_served_from_the_cache(client: TestClient) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    first = client.post(f"/cds-services/{PV}", json=request).json()
    again = client.post(f"/cds-services/{PV}", json=request | {"hookInstance": "another-call"}).json()
    assert [c["summary"] for c in again["cards"]] == [c["summary"] for c in first["cards"]]
    assert {c["uuid"] for c in again["cards"]}.isdisjoint({c["uuid"] for c in first["cards"]})
    assert f'fhir_resist_hook_cache_hits_total{{service="{PV}"}} 1' in client.get("/metrics").text


def test_changed_data_is_evaluated_again(client: TestClient) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    client.post(f"/cds-services/{PV}", json=request)
    without_kras = copy.deepcopy(request)
    for key in ("reports", "genomicObservations"):
        bundle = without_kras["prefetch"][key]
        bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") != "v-kras"]
    cards = client.post(f"/cds-services/{PV}", json=without_kras).json()["cards"]
    assert not any("unlikely to work" in c["summary"] for c in cards)
    assert "hook_cache_hits" not in client.get("/metrics").text


class _OneCaller(Verifier):
    """A verifier that trusts one bearer credential (the JWT checks are test_auth's)."""

    def __init__(self) -> None:
        super().__init__(Trust.from_env({}))

    async def verify(self, authorization: str | None, audience: str) -> Caller:
        if authorization != "Bearer trusted":
            raise Unauthorized("not the trusted caller")
        return Caller(issuer="https://ehr.test", jti="1", tenant=None)


def test_a_cached_answer_goes_only_to_an_authorised_caller_with_a_valid_body(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    settings = ServiceSettings(
        auth="jwt", public_url="https://cds.test", feedback_path=tmp_path / "f.jsonl", deadline=30
    )
    with TestClient(create_app(settings, catalogue=catalogue, verifier=_OneCaller())) as guarded:
        request = hook_request("patient-view", load_json(KRAS))
        trusted = {"Authorization": "Bearer trusted"}
        assert guarded.post(f"/cds-services/{PV}", json=request, headers=trusted).status_code == 200
        again = request | {"hookInstance": "again"}
        assert guarded.post(f"/cds-services/{PV}", json=again).status_code == 401
        assert (
            guarded.post(f"/cds-services/{PV}", json=again, headers={"Authorization": "Bearer x"}).status_code
            == 401
        )
        empty = guarded.post(f"/cds-services/{PV}", json=request | {"hookInstance": ""}, headers=trusted)
        assert empty.status_code == 400
        assert guarded.post(f"/cds-services/{PV}", json=again, headers=trusted).status_code == 200
        hits = f'fhir_resist_hook_cache_hits_total{{service="{PV}"}} 1'
        assert hits in guarded.get("/metrics", headers=trusted).text


def test_calls_that_fetched_from_the_server_are_not_cached(client: TestClient, hapi: HapiMock) -> None:
    request = hook_request("patient-view", load_json(KRAS))
    del request["prefetch"]["conditions"]
    request["fhirServer"] = BASE
    for _ in range(2):
        assert client.post(f"/cds-services/{PV}", json=request).status_code == 200
    assert len(hapi.calls) == 2  # fetched both times
    assert "hook_cache_hits" not in client.get("/metrics").text


def test_the_cache_can_be_switched_off(tmp_path: Path, catalogue: Catalogue) -> None:
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "f.jsonl", hook_cache=0)
    with TestClient(create_app(settings, catalogue=catalogue)) as uncached:
        request = hook_request("patient-view", load_json(KRAS))
        for _ in range(2):
            uncached.post(f"/cds-services/{PV}", json=request)
        assert "hook_cache_hits" not in uncached.get("/metrics").text


def test_the_service_process_tunes_the_garbage_collector(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gc

    from fhir_resist.cdshooks.app import service_app

    monkeypatch.setenv("FHIR_RESIST_CDS_AUTH", "off")
    monkeypatch.setenv("FHIR_RESIST_FEEDBACK", str(tmp_path / "feedback.jsonl"))
    before = gc.get_threshold()
    try:
        app = service_app()
        assert app.title == "fhir_resist"
        assert gc.get_threshold() == (50_000, 20, 20)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
