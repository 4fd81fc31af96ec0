"""Prefetch or fetch: the state of each prefetch key, and pages past the limit refused, never cut."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.hook_request import parse_request
from fhir_resist.cdshooks.hook_services import BY_ID, PREFETCH
from fhir_resist.cdshooks.prefetch import (
    MAX_PAGES,
    NOT_SENT,
    Prefetched,
    gather_with_source,
    needs_server,
    prefetched,
)
from fhir_resist.errors import HttpError
from fhir_resist.fhir.client import FhirClient, Retry
from tests.cdshooks.test_app import KRAS, PV, hook_request
from tests.conftest import load_json

EHR = "http://ehr.test/fhir"
SERVICE = BY_ID[PV]


def _client(base: str, token: str | None) -> FhirClient:
    return FhirClient(base, token=token, retry=Retry(attempts=1))


def _page(n: int, last: int | None) -> dict[str, Any]:
    """Page ``n`` of a searchset, one Observation a page, with a next link unless it is ``last``."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Observation", "id": f"o{n}", "status": "final"}}],
    }
    if n != last:
        bundle["link"] = [{"relation": "next", "url": f"{EHR}/page/{n + 1}"}]
    return bundle


def _serve_pages(rsps: responses.RequestsMock, last: int | None) -> None:
    """``/page/N`` for any N, each page pointing at the next up to ``last`` (None: there is no last)."""

    def page(request: Any) -> tuple[int, dict[str, str], str]:
        n = int(str(request.url).rsplit("/", 1)[1])
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(_page(n, last))

    rsps.add_callback(responses.GET, re.compile(rf"{re.escape(EHR)}/page/\d+"), callback=page)


@pytest.fixture
def pages() -> Iterator[responses.RequestsMock]:
    """An EHR whose pages never end."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _serve_pages(rsps, last=None)
        yield rsps


def _paged_request(first: dict[str, Any]) -> dict[str, Any]:
    """A patient-view request whose ``reports`` prefetch is ``first`` (the rest prefetched as null)."""
    return {
        "hook": "patient-view",
        "hookInstance": "paged",
        "fhirServer": EHR,
        "context": {"patientId": "pat-1"},
        "prefetch": dict.fromkeys(PREFETCH) | {"reports": first},
    }


# ---- the state of a prefetch key -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "state"),
    [
        (None, Prefetched.NO_DATA),
        ({"resourceType": "Patient", "id": "p"}, Prefetched.SENT),
        ({"resourceType": "Bundle", "type": "searchset", "entry": []}, Prefetched.SENT),
        (_page(1, last=None), Prefetched.MORE_PAGES),
        (NOT_SENT, Prefetched.MISSING),
        ({"resourceType": "OperationOutcome", "issue": []}, Prefetched.MISSING),
        ({"id": "no resourceType"}, Prefetched.MISSING),
        (3, Prefetched.INVALID),
        ("Patient/p", Prefetched.INVALID),
        ([], Prefetched.INVALID),
    ],
    ids=[
        "null",
        "resource",
        "bundle",
        "next-link",
        "absent",
        "operation-outcome",
        "no-resource-type",
        "number",
        "string",
        "list",
    ],
)
def test_the_state_of_a_prefetch_value(value: Any, state: Prefetched) -> None:
    assert prefetched(value) is state


def test_only_missing_keys_and_further_pages_need_the_server() -> None:
    assert {s for s in Prefetched if s.needs_server} == {Prefetched.MISSING, Prefetched.MORE_PAGES}


@pytest.mark.parametrize("state", list(Prefetched))
def test_each_state_gathered(state: Prefetched, pages: responses.RequestsMock) -> None:
    """Every state of the reports key, through the gathering: what is read, what is fetched."""
    value = {
        Prefetched.NO_DATA: None,
        Prefetched.SENT: _page(1, last=1),
        Prefetched.MORE_PAGES: _page(1, last=None),
        Prefetched.MISSING: NOT_SENT,
        Prefetched.INVALID: 3,
    }[state]
    body = _paged_request(value)
    if value is NOT_SENT:
        del body["prefetch"]["reports"]
        query = PREFETCH["reports"].replace("{{context.patientId}}", "pat-1").split("?")[0]
        pages.get(f"{EHR}/{query}", json={"resourceType": "Bundle", "type": "searchset", "entry": []})
    request = parse_request(body, SERVICE)
    assert needs_server(request) is state.needs_server
    if state is Prefetched.INVALID:
        with pytest.raises(HttpError) as refused:
            gather_with_source(request, _client)
        assert (refused.value.status, refused.value.expression) == (400, "prefetch.reports")
        return
    if state is Prefetched.MORE_PAGES:  # a chain with no end: the limit
        with pytest.raises(HttpError, match=f"more than {MAX_PAGES} pages"):
            gather_with_source(request, _client)
        return
    gathered = gather_with_source(request, _client)
    assert gathered.fetched is state.needs_server
    assert len(gathered.resources) == (1 if state is Prefetched.SENT else 0)


# ---- the page limit ------------------------------------------------------------------------------


def test_pages_up_to_the_limit_are_all_read() -> None:
    request = parse_request(_paged_request(_page(1, last=None)), SERVICE)
    with responses.RequestsMock() as rsps:
        _serve_pages(rsps, last=MAX_PAGES)
        gathered = gather_with_source(request, _client)
        assert len(rsps.calls) == MAX_PAGES - 1  # the first page came as prefetch
    assert [r["id"] for r in gathered.resources] == [f"o{n}" for n in range(1, MAX_PAGES + 1)]


def test_pages_past_the_limit_are_refused_not_cut_short(pages: responses.RequestsMock) -> None:
    request = parse_request(_paged_request(_page(1, last=None)), SERVICE)
    with pytest.raises(HttpError) as refused:
        gather_with_source(request, _client)
    assert refused.value.status == 412
    assert refused.value.expression == "prefetch.reports"
    assert f"more than {MAX_PAGES} pages" in refused.value.message
    assert "not answered on part of the record" in refused.value.message
    assert len(pages.calls) == MAX_PAGES - 1  # every page up to the limit was read, none beyond


def test_a_next_page_that_is_not_a_resource_is_412(pages: responses.RequestsMock) -> None:
    pages.get(f"{EHR}/odd", json=[1, 2])
    first = _page(1, last=None)
    first["link"] = [{"relation": "next", "url": f"{EHR}/odd"}]
    with pytest.raises(HttpError, match="next page could not be read") as refused:
        gather_with_source(parse_request(_paged_request(first), SERVICE), _client)
    assert refused.value.status == 412


def test_a_prefetch_next_page_on_another_host_is_not_fetched_and_gets_no_token(
    pages: responses.RequestsMock,
) -> None:
    """A prefetch whose next link points away from fhirServer (here a cloud metadata address):
    nothing is fetched there and the EHR's token goes nowhere else; the call is answered 412."""
    elsewhere = "http://169.254.169.254/latest/meta-data/"
    pages.get(elsewhere, json={"resourceType": "Bundle", "type": "searchset"})
    first = _page(1, last=None)
    first["link"] = [{"relation": "next", "url": elsewhere}]
    request = parse_request(_paged_request(first), SERVICE)
    with pytest.raises(HttpError, match="not followed") as refused:
        gather_with_source(request, lambda base, _token: _client(base, "ehr-token"))
    assert refused.value.status == 412
    assert [call.request.url for call in pages.calls] == []  # nothing asked of the other host
    assert "ehr-token" not in refused.value.message


def test_a_missing_key_whose_search_has_too_many_pages_is_412(pages: responses.RequestsMock) -> None:
    """The fetch of a missing key is ``FhirClient.search``, which refuses past its page limit."""
    body = _paged_request(_page(1, last=1))
    del body["prefetch"]["conditions"]
    pages.get(f"{EHR}/Condition", json=_page(1, last=None))
    with pytest.raises(HttpError) as refused:
        gather_with_source(parse_request(body, SERVICE), _client)
    assert refused.value.status == 412
    assert "prefetch.conditions was not sent and fhirServer failed" in refused.value.message
    assert "more than 100 pages" in refused.value.message


def test_the_hook_answers_412_past_the_page_limit(
    tmp_path: Path, catalogue: Catalogue, pages: responses.RequestsMock
) -> None:
    """Through HTTP: an OperationOutcome naming the prefetch key, no cards from part of the data."""
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "feedback.jsonl")
    request = hook_request("patient-view", load_json(KRAS))
    first = request["prefetch"]["reports"]
    first["link"] = [{"relation": "next", "url": f"{EHR}/page/2"}]
    request["fhirServer"] = EHR
    with TestClient(create_app(settings, catalogue=catalogue, client_factory=_client)) as client:
        answer = client.post(f"/cds-services/{PV}", json=request)
        metrics = client.get("/metrics").text
    assert answer.status_code == 412
    (issue,) = answer.json()["issue"]
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert issue["code"] == "processing"
    assert issue["expression"] == ["prefetch.reports"]
    assert f"more than {MAX_PAGES} pages" in issue["details"]["text"]
    assert f'fhir_resist_hook_calls_total{{service="{PV}",status="412"}} 1' in metrics


def test_a_next_page_that_is_not_json_is_412_without_its_text(
    pages: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    pages.get(f"{EHR}/odd", body="SECRET-INTERNAL-DATA root:x:0:0", content_type="text/plain")
    first = _page(1, last=None)
    first["link"] = [{"relation": "next", "url": f"{EHR}/odd"}]
    with pytest.raises(
        HttpError, match=r"next page could not be read from fhirServer \(not JSON\)"
    ) as refused:
        gather_with_source(parse_request(_paged_request(first), SERVICE), _client)
    assert refused.value.status == 412
    assert "SECRET" not in refused.value.message and "SECRET" not in caplog.text


def test_a_next_page_that_fails_is_412_with_its_status_only(pages: responses.RequestsMock) -> None:
    pages.get(f"{EHR}/gone", status=410, body="<html>expired page for Patient/pat-1</html>")
    first = _page(1, last=None)
    first["link"] = [{"relation": "next", "url": f"{EHR}/gone"}]
    with pytest.raises(HttpError) as refused:
        gather_with_source(parse_request(_paged_request(first), SERVICE), _client)
    assert (
        refused.value.message
        == "prefetch.reports: its next page could not be read from fhirServer (it answered HTTP 410)"
    )
