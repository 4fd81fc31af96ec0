"""CDS client JWTs: the spec's test vector, fresh tokens signed with its example key, and every refusal."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.auth import Trust, Verifier
from fhir_resist.errors import Unauthorized
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


@pytest.fixture
def jwks() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(JKU, json=VECTOR["jwks_public"])
        yield rsps


@pytest.fixture
def verifier() -> Verifier:
    return Verifier(Trust(issuers=frozenset({ISSUER}), jku=frozenset({JKU})))


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
        verifier.verify(f"Bearer {VECTOR['compact']}", VECTOR["payload"]["aud"])


def test_a_fresh_token_signed_with_the_spec_key_is_accepted(
    jwks: responses.RequestsMock, verifier: Verifier
) -> None:
    caller = verifier.verify(f"Bearer {mint(tenant='t-1')}", SERVICE)
    assert caller.issuer == ISSUER and caller.tenant == "t-1"
    verifier.verify(f"Bearer {mint()}", SERVICE)
    assert len(jwks.calls) == 1  # the JWK Set is cached


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_case_insensitive(
    jwks: responses.RequestsMock, verifier: Verifier, scheme: str
) -> None:
    assert verifier.verify(f"{scheme} {mint()}", SERVICE).issuer == ISSUER


def test_audience_as_a_list(jwks: responses.RequestsMock, verifier: Verifier) -> None:
    caller = verifier.verify(f"Bearer {mint(aud=[SERVICE, 'https://other'])}", SERVICE)  # type: ignore[arg-type]
    assert caller.issuer == ISSUER
    with pytest.raises(Unauthorized, match="InvalidAudience"):  # a list without the URL called
        verifier.verify(f"Bearer {mint(aud=['https://other', 'https://else'])}", SERVICE)  # type: ignore[arg-type]


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
        (f"Bearer {mint(headers={'jku': 'https://evil.example/jwks'})}", "jku not on the allow-list"),
        (f"Bearer {mint(headers={'kid': 'unknown'})}", "no trusted key"),
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
        verifier.verify(token, SERVICE)


def test_unsigned_token_is_refused(verifier: Verifier) -> None:
    token = jwt.encode({"iss": ISSUER, "aud": SERVICE}, None, "none")  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="'none' not accepted"):
        verifier.verify(f"Bearer {token}", SERVICE)


def test_replayed_jti_is_refused(jwks: responses.RequestsMock, verifier: Verifier) -> None:
    token = mint()
    verifier.verify(f"Bearer {token}", SERVICE)
    with pytest.raises(Unauthorized, match="replayed"):
        verifier.verify(f"Bearer {token}", SERVICE)


def test_keys_trusted_out_of_band_without_jku(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [public | {"kid": "ehr-1"}]}))
    trust = Trust.from_env(
        {"FHIR_RESIST_CDS_ISSUERS": f" {ISSUER} ,x", "FHIR_RESIST_CDS_JWKS": str(jwks_file)}
    )
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": SERVICE, "exp": now + 60, "iat": now, "jti": "1"}
    token = jwt.encode(claims, private, "RS384", {"kid": "ehr-1", "typ": "JWT"})
    assert Verifier(trust).verify(f"Bearer {token}", SERVICE).issuer == ISSUER


def test_a_rotated_key_is_fetched_again(verifier: Verifier) -> None:
    with responses.RequestsMock() as rsps:
        rsps.get(JKU, json={"keys": []})
        rsps.get(JKU, json=VECTOR["jwks_public"])
        clock = [time.time()]
        rotating = Verifier(verifier.trust, clock=lambda: clock[0])
        with pytest.raises(Unauthorized):
            rotating.verify(f"Bearer {mint()}", SERVICE)
        clock[0] += 61
        assert rotating.verify(f"Bearer {mint()}", SERVICE).issuer == ISSUER


# ---- through the app ---------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path, catalogue: Catalogue) -> Iterator[TestClient]:
    settings = ServiceSettings(
        auth="jwt",
        trust=Trust(issuers=frozenset({ISSUER}), jku=frozenset({JKU})),
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
