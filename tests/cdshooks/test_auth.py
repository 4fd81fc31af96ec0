"""CDS client JWTs: the spec's test vector, fresh tokens signed with its example key, and every refusal."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks import jwks as jwks_cache
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.auth import Caller, Trust, TrustedClient, Verifier
from fhir_resist.errors import InputError, Unauthorized
from tests.cdshooks.test_app import PV
from tests.conftest import DATA, SCENARIOS, load_json

VECTOR = load_json(DATA / "cds-hooks" / "spec-2.0.1" / "jwt-example.json")
ISSUER = VECTOR["payload"]["iss"]
JKU = VECTOR["header"]["jku"]
SERVICE = "http://testserver/cds-services/fhir-resist-patient-view"
SECRET = "a-shared-secret-of-at-least-32-bytes!"
PRIVATE = jwt.PyJWK.from_dict(VECTOR["jwk_private_example"]).key


def mint(aud: str = SERVICE, *, key: Any = PRIVATE, alg: str = "ES384", **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())} | changes
    headers = {"kid": "example-kid", "jku": JKU, "typ": "JWT"}
    headers |= changes.pop("headers", {}) if "headers" in changes else {}
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None and k != "headers"}, key, alg, headers
    )


def verify(verifier: Verifier, authorization: str | None, audience: str) -> Caller:
    return asyncio.run(verifier.verify(authorization, audience))


@pytest.fixture
def jwks() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(JKU, json=VECTOR["jwks_public"])
        yield rsps


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(Trust.of(TrustedClient(ISSUER, jku=frozenset({JKU}))))


def test_spec_vector_has_a_good_signature_but_is_expired(
    jwks: responses.RequestsMock, verifier: Verifier
) -> None:
    key = jwt.PyJWK.from_dict(VECTOR["jwks_public"]["keys"][0]).key
    claims = jwt.decode(
        VECTOR["compact"],
        key,
        algorithms=["ES384"],
        audience=VECTOR["payload"]["aud"],
        options={"verify_exp": False},
    )
    assert claims == VECTOR["payload"]
    with pytest.raises(Unauthorized, match="ExpiredSignature"):
        verify(verifier, f"Bearer {VECTOR['compact']}", VECTOR["payload"]["aud"])


def test_a_fresh_token_signed_with_the_spec_key_is_accepted(
    jwks: responses.RequestsMock, verifier: Verifier
) -> None:
    caller = verify(verifier, f"Bearer {mint(tenant='t-1')}", SERVICE)
    assert caller.issuer == ISSUER and caller.tenant == "t-1"
    verify(verifier, f"Bearer {mint()}", SERVICE)
    assert len(jwks.calls) == 1  # the JWK Set is cached


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_case_insensitive(
    jwks: responses.RequestsMock, verifier: Verifier, scheme: str
) -> None:
    assert verify(verifier, f"{scheme} {mint()}", SERVICE).issuer == ISSUER


def test_audience_as_a_list(jwks: responses.RequestsMock, verifier: Verifier) -> None:
    caller = verify(verifier, f"Bearer {mint(aud=[SERVICE, 'https://other'])}", SERVICE)  # type: ignore[arg-type]
    assert caller.issuer == ISSUER
    with pytest.raises(Unauthorized, match="InvalidAudience"):  # a list without the URL called
        verify(verifier, f"Bearer {mint(aud=['https://other', 'https://else'])}", SERVICE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "no bearer token"),
        ("Basic abc", "no bearer token"),
        ("Bearer not.a.jwt", "malformed"),
        (f"Bearer {mint(aud='http://testserver/cds-services/other')}", "InvalidAudience"),
        (f"Bearer {mint(exp=int(time.time()) - 120)}", "ExpiredSignature"),
        (f"Bearer {mint(iss='https://evil.example')}", "not trusted"),
        (f"Bearer {mint(jti=None)}", "MissingRequiredClaim"),
        (f"Bearer {mint(exp=int(time.time()) + 7200)}", "lifetime"),
        (
            f"Bearer {jwt.encode({'iss': ISSUER, 'aud': SERVICE}, SECRET, 'HS256', {'kid': 'example-kid'})}",
            "HS256",
        ),
        (
            f"Bearer {mint(headers={'jku': 'https://evil.example/jwks'})}",
            "jku not on the issuer's allow-list",
        ),
        (f"Bearer {mint(headers={'kid': 'unknown'})}", "no key of the issuer"),
        (
            f"Bearer {mint(key=rsa.generate_private_key(public_exponent=65537, key_size=2048), alg='RS384')}",
            "rejected",
        ),
    ],
    ids=[
        "none",
        "basic",
        "garbage",
        "audience",
        "expired",
        "issuer",
        "no-jti",
        "long-lived",
        "hmac",
        "jku",
        "kid",
        "wrong-key",
    ],
)
def test_refusals(jwks: responses.RequestsMock, verifier: Verifier, token: str | None, reason: str) -> None:
    with pytest.raises(Unauthorized, match=reason):
        verify(verifier, token, SERVICE)


def test_unsigned_token_is_refused(verifier: Verifier) -> None:
    token = jwt.encode({"iss": ISSUER, "aud": SERVICE}, None, "none")  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="'none' not accepted"):
        verify(verifier, f"Bearer {token}", SERVICE)


def test_replayed_jti_is_refused(jwks: responses.RequestsMock, verifier: Verifier) -> None:
    token = mint()
    verify(verifier, f"Bearer {token}", SERVICE)
    with pytest.raises(Unauthorized, match="replayed"):
        verify(verifier, f"Bearer {token}", SERVICE)


def test_keys_trusted_out_of_band_without_jku(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [public | {"kid": "ehr-1"}]}))
    trust = Trust.from_env({"FHIR_RESIST_CDS_ISSUERS": f" {ISSUER} ", "FHIR_RESIST_CDS_JWKS": str(jwks_file)})
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": SERVICE, "exp": now + 60, "iat": now, "jti": "1"}
    token = jwt.encode(claims, private, "RS384", {"kid": "ehr-1", "typ": "JWT"})
    assert verify(Verifier(trust), f"Bearer {token}", SERVICE).issuer == ISSUER


def test_a_rotated_key_is_fetched_again(verifier: Verifier) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(JKU, json={"keys": []})
        rsps.get(JKU, json=VECTOR["jwks_public"])
        clock = [time.time()]
        rotating = Verifier(verifier.trust, clock=lambda: clock[0])
        with pytest.raises(Unauthorized):
            verify(rotating, f"Bearer {mint()}", SERVICE)
        clock[0] += 61
        assert verify(rotating, f"Bearer {mint()}", SERVICE).issuer == ISSUER


# ---- through the app ---------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path, catalogue: Catalogue) -> Iterator[TestClient]:
    settings = ServiceSettings(
        auth="jwt",
        trust=Trust.of(TrustedClient(ISSUER, jku=frozenset({JKU}))),
        public_url="http://testserver",
        feedback_path=tmp_path / "feedback.jsonl",
        reports_token="report-secret",
    )
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        yield client


def test_app_requires_a_valid_jwt_everywhere(app: TestClient, jwks: responses.RequestsMock) -> None:
    from tests.cdshooks.test_app import hook_request

    body = hook_request("patient-view", load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json"))
    assert app.get("/cds-services").status_code == 401
    assert app.post("/cds-services/fhir-resist-patient-view", json=body).status_code == 401
    expired = app.post(
        "/cds-services/fhir-resist-patient-view",
        json=body,
        headers={"Authorization": f"Bearer {VECTOR['compact']}"},
    )
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == "Bearer"
    assert "Expired" not in expired.text  # no detail about why
    good = {"Authorization": f"Bearer {mint(aud='http://testserver/cds-services')}"}
    assert app.get("/cds-services", headers=good).status_code == 200
    good = {"Authorization": f"Bearer {mint()}"}
    assert app.post("/cds-services/fhir-resist-patient-view", json=body, headers=good).status_code == 200
    feedback = load_json(DATA / "cds-hooks" / "spec-2.0.1" / "feedback-overridden.json")
    wrong_aud = {"Authorization": f"Bearer {mint()}"}
    url = "/cds-services/fhir-resist-patient-view/feedback"
    assert app.post(url, json=feedback, headers=wrong_aud).status_code == 401
    right = {"Authorization": f"Bearer {mint(aud='http://testserver' + url)}"}
    assert app.post(url, json=feedback, headers=right).status_code == 200
    assert "fhir_resist_unauthorised_total{} 4" in app.get("/metrics").text
    assert app.get("/healthz").status_code == 200  # no token needed


def test_reports_need_the_shared_token(app: TestClient) -> None:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    assert app.post("/reports", json=bundle).status_code == 401
    assert app.post("/reports", json=bundle, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert (
        app.post("/reports", json=bundle, headers={"Authorization": "Basic report-secret"}).status_code == 401
    )


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_the_report_token_is_accepted_whatever_the_scheme_case(app: TestClient, scheme: str) -> None:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    answer = app.post("/reports", json=bundle, headers={"Authorization": f"{scheme} report-secret"})
    assert answer.status_code != 401, answer.text


# ---- keys bound to their issuer ------------------------------------------------------------------

OTHER = "https://other-ehr.example.org"


def _rsa_client(tmp_path: Path, issuer: str, kid: str) -> tuple[Any, dict[str, Any]]:
    """A private key and the clients-file entry trusting its public half for ``issuer``."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (tmp_path / f"{kid}.json").write_text(json.dumps({"keys": [public | {"kid": kid}]}))
    return private, {"issuer": issuer, "jwks": f"{kid}.json"}


def _signed(private: Any, kid: str, iss: str, **headers: Any) -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": SERVICE, "exp": now + 60, "iat": now, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, private, "RS384", {"kid": kid, "typ": "JWT", **headers})


def test_a_key_of_one_issuer_never_verifies_another_issuers_token(tmp_path: Path) -> None:
    first, first_entry = _rsa_client(tmp_path, ISSUER, "k1")
    second, second_entry = _rsa_client(tmp_path, OTHER, "k2")
    first_entry["jku"] = [JKU]
    (tmp_path / "clients.json").write_text(json.dumps({"clients": [first_entry, second_entry]}))
    trust = Trust.from_env({"FHIR_RESIST_CDS_CLIENTS": str(tmp_path / "clients.json")})
    verifier = Verifier(trust)
    assert verify(verifier, f"Bearer {_signed(first, 'k1', ISSUER)}", SERVICE).issuer == ISSUER
    assert verify(verifier, f"Bearer {_signed(second, 'k2', OTHER)}", SERVICE).issuer == OTHER
    with pytest.raises(Unauthorized, match="no key of the issuer"):  # ehr2's key, claiming ehr1
        verify(verifier, f"Bearer {_signed(second, 'k2', ISSUER)}", SERVICE)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(JKU, json=VECTOR["jwks_public"])
        with pytest.raises(
            Unauthorized, match="jku not on the issuer's allow-list"
        ):  # ehr1's jku, claiming ehr2
            verify(verifier, f"Bearer {mint(iss=OTHER)}", SERVICE)
        assert len(rsps.calls) == 0
        assert verify(verifier, f"Bearer {mint()}", SERVICE).issuer == ISSUER


def test_flat_keys_or_servers_with_several_issuers_are_refused(tmp_path: Path) -> None:
    for name in ("FHIR_RESIST_CDS_JKU", "FHIR_RESIST_CDS_FHIR_SERVERS"):
        env = {"FHIR_RESIST_CDS_ISSUERS": f"{ISSUER},{OTHER}", name: "https://ehr.example.org/x"}
        with pytest.raises(InputError, match=f"^{name}: apply to a single issuer.*FHIR_RESIST_CDS_CLIENTS"):
            Trust.from_env(env)
    both = {"FHIR_RESIST_CDS_CLIENTS": "c.json", "FHIR_RESIST_CDS_ISSUERS": ISSUER}
    with pytest.raises(InputError, match="not both"):
        Trust.from_env(both)


def test_the_flat_form_binds_keys_and_servers_to_its_one_issuer() -> None:
    trust = Trust.from_env(
        {
            "FHIR_RESIST_CDS_ISSUERS": ISSUER,
            "FHIR_RESIST_CDS_JKU": JKU,
            "FHIR_RESIST_CDS_FHIR_SERVERS": "https://ehr.example.org/fhir https://ehr.example.org/r4",
        }
    )
    client = trust.client(ISSUER)
    assert client is not None and client.jku == {JKU}
    assert [str(s) for s in client.fhir_servers] == [
        "https://ehr.example.org:443/fhir",
        "https://ehr.example.org:443/r4",
    ]
    assert trust.servers_without_auth() == client.fhir_servers
    assert Trust.from_env({}).servers_without_auth() is None  # nothing named: any, without auth


@pytest.mark.parametrize(
    ("doc", "where", "message"),
    [
        ([], "clients.json", "not {"),
        ({"clients": [{"issuer": ISSUER, "jwk": "k.json"}]}, r"clients\[0\]", "unknown field 'jwk'"),
        ({"clients": [{"jku": [JKU]}]}, r"clients\[0\]\.issuer", "required"),
        ({"clients": [{"issuer": ISSUER, "jku": JKU}]}, r"clients\[0\]\.jku", "a list"),
        ({"clients": [{"issuer": ISSUER, "fhirServers": ["ehr/fhir"]}]}, r"fhirServers\[0\]", "not a FHIR"),
        ({"clients": [{"issuer": ISSUER, "jwks": {"kid": "x"}}]}, r"clients\[0\]\.jwks", "not a JWK Set"),
        ({"clients": [{"issuer": ISSUER, "jwks": "missing.json"}]}, "missing.json", "cannot be read"),
        ({"clients": [{"issuer": ISSUER}, {"issuer": ISSUER}]}, "clients.json", "more than once"),
        ({"clients": ["x"]}, r"clients\[0\]", "not an object"),
    ],
)
def test_a_bad_clients_file_is_named(tmp_path: Path, doc: Any, where: str, message: str) -> None:
    path = tmp_path / "clients.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=f"{where}.*{re.escape(message)}"):
        Trust.from_env({"FHIR_RESIST_CDS_CLIENTS": str(path)})
    path.write_text("{")
    with pytest.raises(InputError, match=r"clients\.json: not JSON"):
        Trust.from_env({"FHIR_RESIST_CDS_CLIENTS": str(path)})


# ---- the audience: the configured public URL, never the request's headers ------------------------


def test_authentication_needs_the_public_url(tmp_path: Path, catalogue: Catalogue) -> None:
    settings = ServiceSettings(trust=Trust.of(TrustedClient(ISSUER)), feedback_path=tmp_path / "f.jsonl")
    with pytest.raises(InputError, match=r"^FHIR_RESIST_PUBLIC_URL: required with FHIR_RESIST_CDS_AUTH=jwt"):
        create_app(settings, catalogue=catalogue)
    with pytest.raises(InputError, match=r"FHIR_RESIST_PUBLIC_URL: 'cds\.example\.org' is not"):
        create_app(replace(settings, public_url="cds.example.org"), catalogue=catalogue)


def test_the_audience_is_never_taken_from_host_or_forwarded_headers(
    tmp_path: Path, catalogue: Catalogue, jwks: responses.RequestsMock
) -> None:
    settings = ServiceSettings(
        trust=Trust.of(TrustedClient(ISSUER, jku=frozenset({JKU}))),
        public_url="https://cds.example.org",
        feedback_path=tmp_path / "feedback.jsonl",
    )
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        evil = {
            "Authorization": f"Bearer {mint(aud='http://evil.example/cds-services')}",
            "Host": "evil.example",
        }
        assert client.get("/cds-services", headers=evil).status_code == 401
        forwarded = {
            "Authorization": f"Bearer {mint(aud='https://testserver/cds-services')}",
            "X-Forwarded-Proto": "https",
        }
        assert client.get("/cds-services", headers=forwarded).status_code == 401
        public = {"Authorization": f"Bearer {mint(aud='https://cds.example.org/cds-services')}"}
        assert client.get("/cds-services", headers=public).status_code == 200


# ---- the JWK Set: fetched off the event loop, once at a time, failures remembered ------------------


def test_a_failed_jwks_fetch_is_remembered_and_not_repeated() -> None:
    fetched: list[str] = []
    clock = [time.time()]

    def failing(url: str) -> Any:
        fetched.append(url)
        raise requests.ConnectionError("refused")

    verifier = Verifier(
        Trust.of(TrustedClient(ISSUER, jku=frozenset({JKU}))), fetch=failing, clock=lambda: clock[0]
    )
    for _ in range(5):
        with pytest.raises(Unauthorized, match="JWK Set not available"):
            verify(verifier, f"Bearer {mint()}", SERVICE)
    assert fetched == [JKU]  # the failure is remembered: refused at once, no further fetch
    clock[0] += jwks_cache.FAILURE_TTL + 1
    with pytest.raises(Unauthorized):
        verify(verifier, f"Bearer {mint()}", SERVICE)
    assert fetched == [JKU, JKU]  # tried again once the failure is old


def test_tokens_naming_one_jwks_wait_for_one_fetch() -> None:
    release = threading.Event()
    fetched: list[str] = []

    def slow(url: str) -> Any:
        fetched.append(url)
        release.wait(30)
        return VECTOR["jwks_public"]

    verifier = Verifier(Trust.of(TrustedClient(ISSUER, jku=frozenset({JKU}))), fetch=slow)

    async def many() -> list[Caller]:
        calls = [asyncio.ensure_future(verifier.verify(f"Bearer {mint()}", SERVICE)) for _ in range(4)]
        while not fetched:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not any(call.done() for call in calls)  # every token waits on the fetch
        release.set()
        return await asyncio.gather(*calls)

    assert [c.issuer for c in asyncio.run(many())] == [ISSUER] * 4
    assert fetched == [JKU]


class _Silent:
    """A JWK Set host that accepts connections and never answers; ``accepted`` counts them."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/jwks.json"
        self.accepted: list[socket.socket] = []
        self.first = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)
            self.first.set()

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()  # the fetch fails now


def test_a_silent_jwks_host_does_not_hold_up_healthz(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unauthenticated calls whose tokens name an allow-listed JWK Set on a host that never answers:
    ``/healthz`` and discovery are answered while their fetch is still pending; the calls are refused
    when it fails, and later tokens naming it are refused without another fetch."""
    import httpx2

    monkeypatch.setattr(jwks_cache, "DEADLINE", 60.0)  # the fetch stays pending until the host closes
    silent = _Silent()
    settings = ServiceSettings(
        trust=Trust.of(TrustedClient(ISSUER, jku=frozenset({silent.url}))),
        public_url="http://testserver",
        feedback_path=tmp_path / "feedback.jsonl",
    )
    app = create_app(settings, catalogue=catalogue)
    body = {"hook": "patient-view", "hookInstance": "1", "context": {"patientId": "pat-1"}}

    async def scenario() -> tuple[list[int], int, int]:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            calls = [
                asyncio.ensure_future(
                    http.post(
                        f"/cds-services/{PV}",
                        json=body,
                        headers={"Authorization": f"Bearer {mint(aud=SERVICE, headers={'jku': silent.url})}"},
                    )
                )
                for _ in range(3)
            ]
            while not silent.first.is_set():
                await asyncio.sleep(0.01)
            health = await http.get("/healthz")
            pending = sum(not call.done() for call in calls)
            silent.close()
            statuses = [(await call).status_code for call in calls]
            again = await http.post(
                f"/cds-services/{PV}",
                json=body,
                headers={"Authorization": f"Bearer {mint(aud=SERVICE, headers={'jku': silent.url})}"},
            )
            assert again.status_code == 401
            return statuses, health.status_code, pending

    statuses, health, pending = asyncio.run(scenario())
    assert health == 200
    assert pending == 3  # /healthz was answered while every call still waited on the JWK Set
    assert statuses == [401, 401, 401]
    assert len(silent.accepted) == 1  # one fetch for every token naming that URL, none after it failed


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"status": 302, "headers": {"Location": "http://169.254.169.254/"}}, "HTTP 302"),
        ({"status": 500, "body": "down"}, "HTTP 500"),
        ({"json": {"kid": "no keys list"}}, "not a JWK Set"),
        ({"body": "x" * (jwks_cache.MAX_BYTES + 10)}, "too big"),
    ],
    ids=["redirect", "error", "not-a-set", "too-big"],
)
def test_only_a_jwk_set_answered_by_the_url_itself_is_taken(answer: dict[str, Any], problem: str) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(JKU, **answer)
        with pytest.raises(ValueError, match=problem):
            jwks_cache.fetch_jwks(JKU)
        assert len(rsps.calls) == 1  # a redirect is not followed


def test_the_last_jwk_set_is_used_while_its_host_is_down() -> None:
    answers: list[Any] = [VECTOR["jwks_public"], requests.ConnectionError("down")]
    clock = [time.time()]

    def fetch(url: str) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    verifier = Verifier(
        Trust.of(TrustedClient(ISSUER, jku=frozenset({JKU}))), fetch=fetch, clock=lambda: clock[0]
    )
    assert verify(verifier, f"Bearer {mint()}", SERVICE).issuer == ISSUER
    clock[0] += jwks_cache.TTL + 1  # stale: fetched again, which fails; the last set still verifies
    assert verify(verifier, f"Bearer {mint()}", SERVICE).issuer == ISSUER
    assert answers == []
