"""The FHIR client: recorded HAPI replies, paging, errors, retries, tokens, a patient's record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhir_resist import read_context
from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.auth import ASSERTION_TYPE, BackendServicesAuth, BackendServicesConfig
from fhir_resist.fhir.client import FhirClient, Retry, error_of, next_link, retry_after, unique
from tests.conftest import DATA, SCENARIOS, load_json
from tests.hapi import BASE, HapiMock

HAPI = DATA / "hapi"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def _client(**kwargs: Any) -> FhirClient:
    return FhirClient(BASE, retry=Retry(attempts=3, backoff=0.01), sleep=lambda _: None, **kwargs)


def test_paging_through_recorded_hapi_pages(rsps: responses.RequestsMock) -> None:
    page1 = load_json(HAPI / "fhir-kit-client-2018" / "searchset-page1-with-next-link.json")
    page2 = load_json(HAPI / "fhir-kit-client-2018" / "searchset-page2-with-previous-link.json")
    last = {**page2, "link": [link for link in page2["link"] if link["relation"] != "next"]}
    rsps.get("https://example.com/Patient", json=page1, content_type="application/fhir+json;charset=UTF-8")
    rsps.get(next_link(page1) or "", json=last)
    found = FhirClient("https://example.com").search("Patient", [("_count", "3"), ("gender", "female")])
    assert [r["id"] for r in found] == [e["resource"]["id"] for e in (*page1["entry"], *page2["entry"])]
    assert rsps.calls[1].request.url == next_link(page1)  # the _getpages link followed as given


def test_recorded_transaction_response_is_accepted(rsps: responses.RequestsMock) -> None:
    answer = load_json(HAPI / "hapi-fhir-org-2025" / "transaction-response.json")
    rsps.post("https://hapi.fhir.org/baseR5/", json=answer)
    sent = load_json(HAPI / "hapi-fhir-org-2025" / "transaction-request.json")
    result = FhirClient("https://hapi.fhir.org/baseR5").transaction(sent)
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created"] * len(sent["entry"])
    assert rsps.calls[0].request.headers["Content-Type"].startswith("application/fhir+json")
    assert json.loads(rsps.calls[0].request.body or b"") == sent


def test_pre_hapi_code_404_message_is_carried(rsps: responses.RequestsMock) -> None:
    outcome = load_json(HAPI / "fhir-kit-client-2018" / "operationoutcome-404-not-known-pre-hapi-codes.json")
    rsps.get(f"{BASE}/Patient/abcdefg", json=outcome, status=404)
    with pytest.raises(ServerError) as caught:
        _client().read("Patient", "abcdefg")
    assert caught.value.status == 404
    assert not caught.value.retryable
    assert "Resource Patient/abcdefg is not known" in str(caught.value)
    assert len(rsps.calls) == 1


def test_mock_read_errors_carry_hapi_codes(rsps: responses.RequestsMock) -> None:
    HapiMock(rsps)
    client = _client()
    with pytest.raises(ServerError, match="HAPI-2001: Resource Patient/nobody is not known"):
        client.read("Patient", "nobody")
    with pytest.raises(ServerError, match="404 Not Found: HAPI-0302"):
        client.read("Toothbrush", "1")
    with pytest.raises(ServerError, match="HAPI-0524"):
        client.search("Observation", [("genotype", "x")])


def test_deleted_resource_is_gone(rsps: responses.RequestsMock) -> None:
    hapi = HapiMock(rsps)
    hapi.seed({"resourceType": "Patient", "id": "p1"})
    client = _client()
    client.request("DELETE", "Patient/p1")
    with pytest.raises(ServerError) as caught:
        client.read("Patient", "p1")
    assert caught.value.status == 410
    assert "Resource was deleted at" in str(caught.value)


def test_search_pages_through_the_mock_and_keeps_includes(rsps: responses.RequestsMock) -> None:
    hapi = HapiMock(rsps, page_size=2)
    hapi.seed(load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json"))
    for n in range(5):
        hapi.seed({"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": "Patient/pat-1"}})
    client = _client()
    conditions = client.search("Condition", [("patient", "pat-1")])
    assert [c["id"] for c in conditions] == ["cond-1", "c0", "c1", "c2", "c3", "c4"]
    pages = [call for call in hapi.calls if "_getpages" in call[1]]
    assert len(pages) == 2
    reports = client.search(
        "DiagnosticReport", [("patient", "pat-1"), ("_include", "DiagnosticReport:result")]
    )
    assert {f"{r['resourceType']}/{r['id']}" for r in reports} >= {
        "DiagnosticReport/dr-1",
        "Observation/v-kras",
    }


def test_patient_record_read_from_the_server_equals_the_file(rsps: responses.RequestsMock) -> None:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    HapiMock(rsps, page_size=3).seed(bundle)
    fetched = _client().patient_resources("pat-1")
    from_server, from_file = read_context(fetched), read_context([bundle])
    assert from_server.alterations == from_file.alterations
    assert from_server.therapies == from_file.therapies
    assert from_server.tumours == from_file.tumours
    assert sorted(f"{r['resourceType']}/{r['id']}" for r in fetched) == sorted(
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
    )


def test_expired_paging_link_is_an_error_not_a_short_answer(rsps: responses.RequestsMock) -> None:
    hapi = HapiMock(rsps, page_size=1)
    for n in range(3):
        hapi.seed({"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": "Patient/p"}})
    original = hapi._page_of

    def expire(search_id: str, offset: int, count: int, self_url: str) -> dict[str, Any]:
        page = original(search_id, offset, count, self_url)
        hapi.searches.clear()
        return page

    hapi._page_of = expire  # type: ignore[method-assign]
    with pytest.raises(ServerError, match="HAPI-0417"):
        _client().search("Condition", [("patient", "p")])


def test_bearer_token_is_sent_and_401_refreshes_once(rsps: responses.RequestsMock) -> None:
    class Tokens:
        def __init__(self) -> None:
            self.issued = 0

        def token(self, *, refresh: bool = False) -> str:
            if refresh or not self.issued:
                self.issued += 1
            return f"t{self.issued}"

    tokens = Tokens()
    rsps.get(f"{BASE}/Patient/p", status=401, json={"resourceType": "OperationOutcome", "issue": []})
    rsps.get(f"{BASE}/Patient/p", json={"resourceType": "Patient", "id": "p"})
    assert _client(auth=tokens).read("Patient", "p")["id"] == "p"
    assert [c.request.headers["Authorization"] for c in rsps.calls] == ["Bearer t1", "Bearer t2"]
    rsps.get(f"{BASE}/Patient/q", json={"resourceType": "Patient", "id": "q"})
    _client(token="fixed").read("Patient", "q")
    assert rsps.calls[-1].request.headers["Authorization"] == "Bearer fixed"


def test_retry_after_longer_than_allowed_is_not_waited_for(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/Patient/p", status=503, body="busy", headers={"Retry-After": "3600"})
    waited: list[float] = []
    client = FhirClient(BASE, retry=Retry(attempts=5, max_wait=60), sleep=waited.append)
    with pytest.raises(ServerError, match="503") as caught:
        client.read("Patient", "p")
    assert caught.value.retryable
    assert waited == []
    assert len(rsps.calls) == 1


def test_attempts_are_bounded(rsps: responses.RequestsMock) -> None:
    rsps.get(f"{BASE}/Patient/p", body=requests.ConnectionError("reset"))
    with pytest.raises(ServerError, match="could not be reached") as caught:
        _client().read("Patient", "p")
    assert caught.value.attempts == 3
    assert len(rsps.calls) == 3


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), ("Wed, 01 Apr 2026 09:00:30 GMT", 30.0), ("soon", None), (None, None)],
)
def test_retry_after_forms(header: str | None, seconds: float | None) -> None:
    assert retry_after(header, now=datetime(2026, 4, 1, 9, tzinfo=UTC)) == seconds


def test_error_of_a_gateway_page_has_no_html_noise(rsps: responses.RequestsMock) -> None:
    rsps.get("http://x.test/r", status=502, body="<html>\n<body>Bad   gateway</body></html>")
    error = error_of(requests.get("http://x.test/r", timeout=1), "GET Patient")
    assert error.retryable and error.status == 502 and error.outcome is None
    assert "\n" not in str(error)
    assert str(error).endswith("502 Bad Gateway: Bad gateway")


def test_a_bad_base_url_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not an http"):
        FhirClient("hapi.example.org/fhir")


def test_unique_keeps_first_of_each_resource() -> None:
    a = {"resourceType": "Observation", "id": "1", "n": 1}
    assert unique(
        [a, {"resourceType": "Observation", "id": "1", "n": 2}, {"resourceType": "Patient", "id": "1"}]
    ) == [
        a,
        {"resourceType": "Patient", "id": "1"},
    ]


# ---- SMART backend services --------------------------------------------------------------------


def _pem(key: Any) -> str:
    return str(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    )


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [
        ("RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES384", ec.generate_private_key(ec.SECP384R1())),
    ],
)
def test_backend_services_token_with_a_signed_assertion(
    rsps: responses.RequestsMock, algorithm: str, key: Any
) -> None:
    token_url = "https://auth.test/token"
    rsps.get(f"{BASE}/.well-known/smart-configuration", json={"token_endpoint": token_url})
    rsps.post(token_url, json={"access_token": "abc", "token_type": "bearer", "expires_in": 300})
    now = [1_700_000_000.0]
    auth = BackendServicesAuth(
        BackendServicesConfig("fhir-resist", _pem(key), algorithm=algorithm, key_id="k1"),
        BASE,
        clock=lambda: now[0],
    )
    assert auth.token() == "abc"
    assert auth.token() == "abc"  # cached
    form = dict(pair.split("=", 1) for pair in str(rsps.calls[1].request.body).split("&"))
    assert form["grant_type"] == "client_credentials"
    assert unquote(form["client_assertion_type"]) == ASSERTION_TYPE
    assertion = unquote(form["client_assertion"])
    assert jwt.get_unverified_header(assertion) == {"alg": algorithm, "typ": "JWT", "kid": "k1"}
    claims = jwt.decode(
        assertion, key.public_key(), algorithms=[algorithm], audience=token_url, options={"verify_exp": False}
    )
    assert claims["iss"] == claims["sub"] == "fhir-resist"
    assert claims["exp"] - claims["iat"] == 300
    posts = [c for c in rsps.calls if c.request.method == "POST"]
    assert len(posts) == 1
    now[0] += 250  # within a minute of expiry: a new token
    auth.token()
    assert len([c for c in rsps.calls if c.request.method == "POST"]) == 2


def test_backend_services_refusal_is_a_clear_error(rsps: responses.RequestsMock) -> None:
    rsps.post("https://auth.test/token", status=401, json={"error": "invalid_client"})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    auth = BackendServicesAuth(
        BackendServicesConfig("c", _pem(key), token_url="https://auth.test/token"), BASE
    )
    with pytest.raises(ServerError, match="invalid_client") as caught:
        auth.token()
    assert not caught.value.retryable


def test_backend_services_bad_key_is_a_clear_error() -> None:
    auth = BackendServicesAuth(BackendServicesConfig("c", "not a key", token_url="https://auth.test/t"), BASE)
    with pytest.raises(ServerError, match="cannot sign RS384"):
        auth.assertion("https://auth.test/t")


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://attacker.example.org/fhir?_getpages=abc",  # another host
        "http://example.com/fhir?_getpages=abc",  # the same host without TLS
        "https://example.com:8443/fhir?_getpages=abc",  # another port
        "http://169.254.169.254/latest/meta-data/",  # a cloud metadata address
    ],
)
def test_a_next_link_to_another_origin_is_not_followed_and_gets_no_token(
    rsps: responses.RequestsMock, elsewhere: str
) -> None:
    page = {"resourceType": "Bundle", "type": "searchset", "link": [{"relation": "next", "url": elsewhere}]}
    rsps.get("https://example.com/fhir/Observation", json=page)
    rsps.get(elsewhere.split("?")[0], json={"resourceType": "Bundle", "type": "searchset"})
    client = FhirClient("https://example.com/fhir", token="secret-token", sleep=lambda _: None)
    with pytest.raises(ServerError, match="not followed") as refused:
        client.search("Observation", [("patient", "p1")])
    assert not refused.value.retryable
    assert [(call.request.url or "").split("?")[0] for call in rsps.calls] == [
        "https://example.com/fhir/Observation"
    ]
    assert "secret-token" not in str(refused.value)


def test_a_next_link_on_the_same_origin_is_followed_whatever_its_spelling(
    rsps: responses.RequestsMock,
) -> None:
    first = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": "HTTPS://Example.com:443/fhir?_getpages=abc&_getpagesoffset=1"}],
        "entry": [{"resource": {"resourceType": "Observation", "id": "o1"}}],
    }
    second = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Observation", "id": "o2"}}],
    }
    rsps.get("https://example.com/fhir/Observation", json=first)
    rsps.get("https://example.com:443/fhir", json=second)
    found = FhirClient("https://example.com/fhir", token="t").search("Observation", [])
    assert [r["id"] for r in found] == ["o1", "o2"]
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer t"


@pytest.mark.parametrize("token", ["abc\ndef", "abc def", "tok\x00en", "ünïcode"])
def test_a_token_a_bearer_header_cannot_carry_is_refused_without_repeating_it(token: str) -> None:
    with pytest.raises(InputError, match="bearer token cannot have") as refused:
        FhirClient("https://example.com/fhir", token=token)
    assert token not in str(refused.value) and token not in (refused.value.where or "")


def test_the_cli_refuses_an_unusable_token_in_one_line_without_printing_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fhir_resist.cli import main

    code = main(
        ["evaluate", "--server", "https://example.com/fhir", "--patient", "p1", "--token", "s3cr3t\nX"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "s3cr3t" not in err and "Traceback" not in err
    assert "bearer token cannot have" in err


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_its_target_gets_no_token(
    rsps: responses.RequestsMock, status: int
) -> None:
    elsewhere = "http://169.254.169.254/latest/meta-data/"
    rsps.get("https://example.com/fhir/Patient/p1", status=status, headers={"Location": elsewhere})
    rsps.get(elsewhere, json={"resourceType": "Patient", "id": "p1"})
    client = FhirClient("https://example.com/fhir", token="secret-token", sleep=lambda _: None)
    with pytest.raises(ServerError, match="redirects are not followed") as refused:
        client.read("Patient", "p1")
    assert not refused.value.retryable and refused.value.status == status
    assert [call.request.url for call in rsps.calls] == ["https://example.com/fhir/Patient/p1"]
    assert "secret-token" not in str(refused.value) and "169.254" not in str(refused.value)
