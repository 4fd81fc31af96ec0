"""The hook service's parts without HTTP: the assessment cache (its key from the raw body, what it
answers and what never); what needs the FHIR server."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from fhir_resist import Catalogue
from fhir_resist.catalogue import load_catalogue
from fhir_resist.cdshooks import hooks
from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.hook_request import parse_request
from fhir_resist.cdshooks.hook_services import BY_ID
from fhir_resist.cdshooks.prefetch import needs_server
from tests.cdshooks.test_app import KRAS, draft, hook_request, order_request
from tests.conftest import load_json

SERVICE = BY_ID["fhir-resist-patient-view"]
DAY = date(2026, 11, 30)
WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TOKEN = {"token_type": "Bearer", "expires_in": 300, "scope": "s", "subject": "c"}


def _raw_key(raw: bytes, day: date = DAY, service: str = SERVICE.id, version: str = "1") -> str | None:
    key = AssessmentCache(4).key(raw, service, version, day)
    return key.digest if key is not None else None


def _key(body: dict[str, Any], day: date = DAY) -> str | None:
    return _raw_key(json.dumps(body).encode(), day)


def _body(instance: str, patient: str, **extra: Any) -> dict[str, Any]:
    return {"hook": "patient-view", "hookInstance": instance, "context": {"patientId": patient}, **extra}


def test_only_the_per_call_values_leave_the_key() -> None:
    assert _key(_body("a-1", "p1")) == _key(_body("b-2", "p1"))
    with_token = _body("a", "p1", fhirServer="https://x", fhirAuthorization={"access_token": "t1", **TOKEN})
    other_token = _body("b", "p1", fhirServer="https://x", fhirAuthorization={"access_token": "t2", **TOKEN})
    assert _key(with_token) == _key(other_token)
    assert _key(with_token) != _key(_body("a", "p1", fhirServer="https://x"))


def test_a_short_hook_instance_cannot_blank_out_the_data() -> None:
    # removing every "1" would make these two patients one key; only the member is cut out
    assert _key(_body("1", "p1")) != _key(_body("1", "p11"))


def test_any_other_byte_of_the_body_is_in_the_key() -> None:
    raw = b'{"hook":"patient-view","hookInstance":"ab","context":{"patientId":"p1"}}'
    assert _raw_key(raw) is not None
    assert _raw_key(raw) != _raw_key(raw.replace(b'"hook":"', b'"hook" :"'))
    assert _raw_key(raw) != _raw_key(raw.replace(b'"hookInstance":"ab"', b'"hookInstance": "ab"'))


def test_another_day_hook_or_catalogue_is_another_key() -> None:
    raw = json.dumps(_body("a", "p1")).encode()
    assert _raw_key(raw) != _raw_key(raw, date(2026, 12, 1))
    assert _raw_key(raw) != _raw_key(raw, service="fhir-resist-order-select")
    assert _raw_key(raw) != _raw_key(raw, version="2")


@pytest.mark.parametrize(
    "raw",
    [
        # the name twice: in the data too
        json.dumps(_body("1", "p1", prefetch={"x": {"resourceType": "Basic", "hookInstance": "1"}})).encode(),
        # the member spelt with an escape, and the plain name inside another key
        b'{"hook":"patient-view","x\\"hookInstance":"1","hook\\u0049nstance":"1","context":{"patientId":"p"}}',
        # the plain name only inside another key (its quote escaped)
        b'{"hook":"patient-view","x\\"hookInstance":"1","context":{"patientId":"p"}}',
        # not a string
        b'{"hook":"patient-view","hookInstance":7,"context":{"patientId":"p"}}',
        # what a request may not hold: an empty hookInstance, a token no header can carry, not UTF-8
        b'{"hook":"patient-view","hookInstance":"","context":{"patientId":"p"}}',
        json.dumps(
            _body("a", "p", fhirServer="https://x", fhirAuthorization={"access_token": "t 1", **TOKEN})
        ).encode(),
        b'{"hook":"patient-view","hookInstance":"\xff","context":{"patientId":"p"}}',
        # two tokens
        json.dumps(
            _body("a", "p", fhirAuthorization={"access_token": "t", **TOKEN}, x={"access_token": "u"})
        ).encode(),
    ],
)
def test_an_ambiguous_or_unusable_body_has_no_key(raw: bytes) -> None:
    assert _raw_key(raw) is None


def test_caching_off_makes_no_key() -> None:
    assert AssessmentCache(0).key(json.dumps(_body("a", "p1")).encode(), SERVICE.id, "1", DAY) is None


def test_a_key_prints_without_the_token() -> None:
    raw = json.dumps(
        _body("a", "p", fhirServer="https://x", fhirAuthorization={"access_token": "SECRET", **TOKEN})
    )
    key = AssessmentCache(4).key(raw.encode(), SERVICE.id, "1", DAY)
    assert key is not None and key.access_token == "SECRET"
    assert "SECRET" not in repr(key)


# ---- a call answered from the cache, from its raw bytes ------------------------------------------


def _call(
    body: dict[str, Any], cache: AssessmentCache, catalogue: Catalogue, when: datetime = WHEN
) -> hooks.HookResult:
    raw = json.dumps(body).encode()
    return hooks.call(SERVICE, json.loads(raw), catalogue, at=when, raw=raw, cache=cache)


def _cached(body: dict[str, Any], cache: AssessmentCache, catalogue: Catalogue) -> hooks.HookResult | None:
    return hooks.cached(SERVICE, json.dumps(body).encode(), catalogue, cache, WHEN)[0]


def test_a_repeated_call_is_answered_from_its_bytes_with_its_own_hook_instance(catalogue: Catalogue) -> None:
    cache = AssessmentCache(4)
    first = hook_request("patient-view", load_json(KRAS))
    assert not _call(first, cache, catalogue).cached
    again = first | {"hookInstance": "another-call"}
    hit = _cached(again, cache, catalogue)
    assert hit is not None and hit.cached
    assert hit.cards == _call(again, AssessmentCache(0), catalogue).cards  # as if evaluated anew


def test_changed_data_another_day_or_another_catalogue_is_not_answered_from_the_cache(
    catalogue: Catalogue,
) -> None:
    cache = AssessmentCache(4)
    first = hook_request("patient-view", load_json(KRAS))
    _call(first, cache, catalogue)
    changed = copy.deepcopy(first)
    changed["context"]["userId"] = "Practitioner/2"
    assert _cached(changed, cache, catalogue) is None
    assert (
        hooks.cached(SERVICE, json.dumps(first).encode(), catalogue, cache, WHEN + timedelta(days=1))[0]
        is None
    )
    reloaded = load_catalogue()
    assert reloaded.version == catalogue.version and reloaded is not catalogue
    assert _cached(first, cache, reloaded) is None
    assert _cached(first, cache, catalogue) is not None


def test_another_hook_is_not_answered_from_the_cache(catalogue: Catalogue) -> None:
    cache = AssessmentCache(4)
    order = order_request("order-select", draft("318341", "cetuximab"))
    select = BY_ID["fhir-resist-order-select"]
    raw = json.dumps(order).encode()
    hooks.call(select, json.loads(raw), catalogue, at=WHEN, raw=raw, cache=cache)
    assert hooks.cached(select, raw, catalogue, cache, WHEN)[0] is not None
    assert hooks.cached(BY_ID["fhir-resist-order-sign"], raw, catalogue, cache, WHEN)[0] is None


def test_a_cut_that_is_not_the_requests_own_is_never_stored(catalogue: Catalogue) -> None:
    # an access_token with no fhirAuthorization: the bytes cut are data, not the caller's token
    cache = AssessmentCache(4)
    body = hook_request("patient-view", load_json(KRAS)) | {"note": {"access_token": "t1"}}
    assert _call(body, cache, catalogue).cards
    assert _cached(body, cache, catalogue) is None
    assert _cached(body | {"note": {"access_token": "t2"}}, cache, catalogue) is None


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
