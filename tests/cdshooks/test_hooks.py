"""The hook service's parts without HTTP: the assessment cache key; what needs the FHIR server."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.hook_request import parse_request
from fhir_resist.cdshooks.hook_services import BY_ID
from fhir_resist.cdshooks.prefetch import needs_server
from tests.cdshooks.test_app import KRAS, hook_request
from tests.conftest import load_json

SERVICE = BY_ID["fhir-resist-patient-view"]
DAY = date(2026, 11, 30)


def _key(body: dict[str, Any], day: date = DAY) -> str | None:
    return AssessmentCache(4).key(json.dumps(body).encode(), parse_request(body, SERVICE), day)


def _body(instance: str, patient: str, **extra: Any) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": instance, "context": {"patientId": patient}, **extra}


def test_only_the_per_call_values_leave_the_key() -> None:
    assert _key(_body("a-1", "p1")) == _key(_body("b-2", "p1"))
    token = {"token_type": "Bearer", "expires_in": 300, "scope": "s", "subject": "c"}
    with_token = _body("a", "p1", fhirServer="https://x", fhirAuthorization={"access_token": "t1", **token})
    other_token = _body("b", "p1", fhirServer="https://x", fhirAuthorization={"access_token": "t2", **token})
    assert _key(with_token) == _key(other_token)


def test_a_short_hook_instance_cannot_blank_out_the_data() -> None:
    # removing every "1" would make these two patients one key; only the member is cut out
    assert _key(_body("1", "p1")) != _key(_body("1", "p11"))


def test_another_day_is_another_key() -> None:
    assert _key(_body("a", "p1")) != _key(_body("a", "p1"), date(2026, 12, 1))


def test_an_ambiguous_body_is_not_cached() -> None:
    assert _key(_body("1", "p1", prefetch={"x": {"resourceType": "Basic", "hookInstance": "1"}})) is None


def test_the_hook_fetch_client_gives_up_quickly() -> None:
    from fhir_resist.cdshooks.prefetch import default_client

    client = default_client("https://ehr.example/fhir", "t")
    assert client.retry.attempts == 2
    assert client.timeout[1] <= 4.0
    assert client.retry.max_wait <= 1.0


@pytest.mark.parametrize(
    ("change", "needed"),
    [
        ({}, False),  # every key prefetched
        ({"conditions": None}, False),  # null: the EHR says there is no data
        ({"conditions": "drop"}, True),  # not sent: to be fetched
        ({"conditions": {"resourceType": "OperationOutcome", "issue": []}}, True),  # the EHR failed it
        (
            {
                "reports": {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "link": [{"relation": "next", "url": "http://ehr.test/fhir?page=2"}],
                    "entry": [],
                }
            },
            True,  # more pages
        ),
        ({"conditions": 3}, False),  # invalid: a 400, not a fetch
    ],
)
def test_needs_server_only_for_what_prefetch_did_not_bring(change: dict[str, Any], needed: bool) -> None:
    body = hook_request("patient-view", load_json(KRAS))
    for key, value in change.items():
        if value == "drop":
            del body["prefetch"][key]
        else:
            body["prefetch"][key] = value
    assert needs_server(parse_request(body, SERVICE)) is needed
