"""The HAPI mock answers in the shapes recorded from real HAPI servers (tests/data/hapi)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses

from tests.conftest import DATA, load_json
from tests.hapi import BASE, STORAGE_CS, HapiMock

HAPI = DATA / "hapi"
JSON_HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


@pytest.fixture
def hapi() -> Iterator[HapiMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield HapiMock(rsps)


def _post(path: str, body: dict[str, Any], **headers: str) -> requests.Response:
    return requests.post(f"{BASE}/{path}", json=body, headers={**JSON_HEADERS, **headers}, timeout=5)


def _put(path: str, body: dict[str, Any], **headers: str) -> requests.Response:
    return requests.put(f"{BASE}/{path}", json=body, headers={**JSON_HEADERS, **headers}, timeout=5)


def test_recorded_transaction_gets_a_recorded_shaped_answer(hapi: HapiMock) -> None:
    request = load_json(HAPI / "hapi-fhir-org-2025" / "transaction-request.json")
    recorded = load_json(HAPI / "hapi-fhir-org-2025" / "transaction-response.json")
    response = _post("", request)
    assert response.status_code == 200
    assert response.headers["Content-Type"].lower() == "application/fhir+json;charset=utf-8"
    assert response.headers["X-Powered-By"].startswith("HAPI FHIR")
    assert re.fullmatch(r"[A-Za-z0-9]{16}", response.headers["X-Request-ID"])
    ours = response.json()
    assert ours["type"] == recorded["type"] == "transaction-response"
    assert len(ours["entry"]) == len(recorded["entry"])
    for mine, real in zip(ours["entry"], recorded["entry"], strict=True):
        assert set(mine["response"]) == set(real["response"])
        assert mine["response"]["status"] == real["response"]["status"] == "201 Created"
        assert re.fullmatch(r"[A-Z][A-Za-z]+/\d+/_history/1", mine["response"]["location"])
        assert mine["response"]["etag"] == "1"
        coding = mine["response"]["outcome"]["issue"][0]["details"]["coding"][0]
        assert coding["system"] == STORAGE_CS and coding["code"] == "SUCCESSFUL_CREATE"
    # placeholders rewritten to server ids, as in the recorded searchsets
    conditions = hapi.all("Condition")
    assert conditions and all(re.fullmatch(r"Patient/\d+", c["subject"]["reference"]) for c in conditions)


def test_recorded_searchset_shape(hapi: HapiMock) -> None:
    recorded = load_json(HAPI / "hapi-fhir-org-2025" / "searchset-condition-by-subject.json")
    hapi.seed({"resourceType": "Patient", "id": "p"})
    hapi.seed({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"}})
    ours = requests.get(f"{BASE}/Condition", params={"subject": "Patient/p"}, timeout=5).json()
    assert set(ours) == set(recorded)
    assert set(ours["entry"][0]) == set(recorded["entry"][0])
    assert ours["link"][0]["url"] == f"{BASE}/Condition?subject=Patient%2Fp"
    assert ours["entry"][0]["search"] == {"mode": "match"}
    empty = requests.get(f"{BASE}/Condition", params={"subject": "Patient/nobody"}, timeout=5).json()
    assert empty["total"] == 0 and "entry" not in empty


def test_create_headers_and_prefer(hapi: HapiMock) -> None:
    created = _post("Patient", {"resourceType": "Patient"})
    assert created.status_code == 201
    rid = created.json()["id"]
    assert created.headers["Location"] == f"{BASE}/Patient/{rid}/_history/1"
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Last-Modified"].endswith("GMT")
    minimal = _post("Patient", {"resourceType": "Patient"}, Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.text == ""
    outcome = _post("Patient", {"resourceType": "Patient"}, Prefer="return=OperationOutcome").json()
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "SUCCESSFUL_CREATE"
    assert int(minimal.headers["Location"].split("/")[-3]) == int(rid) + 1  # one sequential counter


def test_conditional_create(hapi: HapiMock) -> None:
    body = {"resourceType": "Device", "identifier": [{"system": "urn:s", "value": "1"}]}
    first = _post("Device", body, **{"If-None-Exist": "identifier=urn:s|1"})
    again = _post("Device", body, **{"If-None-Exist": "identifier=urn:s|1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    _post("Device", body)  # an unconditional duplicate
    clash = _post("Device", body, **{"If-None-Exist": "identifier=urn:s|1"})
    assert clash.status_code == 412
    assert clash.json()["issue"][0]["diagnostics"].startswith(
        "HAPI-0958: Failed to CREATE resource with match URL"
    )


def test_update_rules(hapi: HapiMock) -> None:
    assert _put("Patient/123", {"resourceType": "Patient", "id": "123"}).status_code == 400
    new = _put("Patient/abc", {"resourceType": "Patient", "id": "abc"})
    assert new.status_code == 201
    same = _put("Patient/abc", {"resourceType": "Patient", "id": "abc"})
    assert same.status_code == 200 and same.headers["ETag"] == 'W/"1"'  # no change, no new version
    changed = _put("Patient/abc", {"resourceType": "Patient", "id": "abc", "gender": "female"})
    assert changed.headers["ETag"] == 'W/"2"'
    stale = _put("Patient/abc", {"resourceType": "Patient", "id": "abc"}, **{"If-Match": 'W/"1"'})
    assert stale.status_code == 409
    assert "HAPI-0989" in stale.json()["issue"][0]["diagnostics"]
    wrong = _put("Patient/abc", {"resourceType": "Patient", "id": "xyz"})
    assert wrong.status_code == 400


def test_a_failing_entry_rolls_the_whole_transaction_back(hapi: HapiMock) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Condition", "subject": {"reference": "Patient/missing"}},
                "request": {"method": "POST", "url": "Condition"},
            },
        ],
    }
    response = _post("", bundle)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "HAPI-1094: Resource Patient/missing not found" in response.json()["issue"][0]["diagnostics"]
    assert hapi.count() == 0


def test_batch_answers_each_entry(hapi: HapiMock) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {"resourceType": "Condition", "subject": {"reference": "Patient/missing"}},
                "request": {"method": "POST", "url": "Condition"},
            },
        ],
    }
    answer = _post("", bundle).json()
    assert answer["type"] == "batch-response"
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created", "400 Bad Request"]
    assert hapi.count() == 1


def test_other_bundle_types_are_refused(hapi: HapiMock) -> None:
    response = _post("", {"resourceType": "Bundle", "type": "collection"})
    assert response.status_code == 400
    assert "HAPI-0527" in response.json()["issue"][0]["diagnostics"]


def test_metadata(hapi: HapiMock) -> None:
    capability = requests.get(f"{BASE}/metadata", timeout=5).json()
    assert capability["fhirVersion"] == "4.0.1"
    assert capability["software"]["name"] == "HAPI FHIR Server"


# ---- as a real HAPI FHIR 8.8.0 JPA server answered (tests/fhir/test_real_hapi_mock.py) ----------


def test_put_answers_with_content_location_and_no_location(hapi: HapiMock) -> None:
    created = _put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    assert created.status_code == 201
    assert created.headers["Content-Location"] == f"{BASE}/Patient/p1/_history/1"
    assert "Location" not in created.headers
    read = requests.get(f"{BASE}/Patient/p1", headers=JSON_HEADERS, timeout=5)
    assert read.headers["Content-Location"] == f"{BASE}/Patient/p1/_history/1"
    assert "Location" not in read.headers
    posted = _post("Patient", {"resourceType": "Patient"})
    assert posted.headers["Location"] == posted.headers["Content-Location"]


def test_if_match_conflict_carries_both_hapi_codes(hapi: HapiMock) -> None:
    _put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    stale = _put(
        "Patient/p1", {"resourceType": "Patient", "id": "p1", "active": True}, **{"If-Match": 'W/"3"'}
    )
    assert stale.status_code == 409
    assert stale.json()["issue"][0]["diagnostics"].startswith(
        "HAPI-0550: HAPI-0989: Trying to update Patient/p1"
    )


def test_delete_and_gone_name_the_deleted_version(hapi: HapiMock) -> None:
    _put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    deleted = requests.delete(f"{BASE}/Patient/p1", headers=JSON_HEADERS, timeout=5)
    assert deleted.headers["Content-Location"] == f"{BASE}/Patient/p1/_history/2"
    gone = requests.get(f"{BASE}/Patient/p1", headers=JSON_HEADERS, timeout=5)
    assert gone.status_code == 410
    assert gone.headers["Location"] == f"{BASE}/Patient/p1/_history/2"
    never = requests.delete(f"{BASE}/Patient/p2", headers=JSON_HEADERS, timeout=5)
    assert never.headers["Content-Location"] == f"{BASE}/Patient/p2"


def test_transaction_and_search_headers(hapi: HapiMock) -> None:
    answer = _post("", {"resourceType": "Bundle", "type": "transaction", "entry": []})
    bundle = f"{BASE}/Bundle/{answer.json()['id']}"
    assert answer.headers["Location"] == answer.headers["Content-Location"] == bundle
    for n in range(3):
        _put(f"Patient/p{n}", {"resourceType": "Patient", "id": f"p{n}"})
    first = requests.get(f"{BASE}/Patient", params={"_count": "2"}, headers=JSON_HEADERS, timeout=5)
    assert first.headers["Last-Modified"].endswith("GMT")
    assert "Content-Location" not in first.headers
    following = next(x["url"] for x in first.json()["link"] if x["relation"] == "next")
    second = requests.get(following, headers=JSON_HEADERS, timeout=5)
    search_id = re.search(r"_getpages=([^&]+)", following)
    assert search_id is not None
    assert second.headers["Content-Location"] == f"{BASE}/Bundle/{search_id[1]}"


def test_a_count_has_no_links_and_is_marked_subsetted(hapi: HapiMock) -> None:
    _put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    counted = requests.get(
        f"{BASE}/Patient", params={"_summary": "count"}, headers=JSON_HEADERS, timeout=5
    ).json()
    assert counted["total"] == 1
    assert "link" not in counted and "entry" not in counted
    assert counted["meta"]["tag"][0]["code"] == "SUBSETTED"
