"""Writing back to a real HAPI FHIR server: what only a real server can show.

    FHIR_RESIST_TEST_SERVER=http://127.0.0.1:8080/fhir python -m pytest -m server

Every test writes its own copy of a scenario patient (ids suffixed with a random tag), so runs
against the same server never meet. Skipped when the variable is not set.
"""

from __future__ import annotations

import copy
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, terminology, to_bundle
from fhir_resist.engine.model import Assessment
from fhir_resist.errors import ServerError
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.delivery import deliver, scope_of
from fhir_resist.fhir.outbox import Outbox
from tests.conftest import SCENARIOS, load_json, renamed, seed_transaction

SERVER = os.environ.get("FHIR_RESIST_TEST_SERVER")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not SERVER, reason="set FHIR_RESIST_TEST_SERVER to a FHIR R4 base URL"),
]
JSON = dict[str, Any]
AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
SCENARIO = SCENARIOS / "crc-kras-g12d-cetuximab.json"


def _client() -> FhirClient:
    assert SERVER
    return FhirClient(SERVER)


def _scenario(tag: str) -> JSON:
    return renamed(load_json(SCENARIO), tag)


def _load(client: FhirClient, bundle: JSON) -> None:
    """Put a scenario's resources on the server under their own ids, in one transaction."""
    client.transaction(seed_transaction(bundle, client.base))


def _assess(client: FhirClient, catalogue: Catalogue, tag: str) -> Assessment:
    return evaluate(client.patient_resources(f"pat-1-{tag}"), catalogue=catalogue, at=AT)


def _issues(client: FhirClient, tag: str) -> list[JSON]:
    return client.search(
        "DetectedIssue", [("patient", f"Patient/pat-1-{tag}"), ("identifier", f"{terminology.NS_FINDING}|")]
    )


def _versions(client: FhirClient, locations: list[str]) -> dict[str, str]:
    """Current version of each written resource (``Type/id`` from a ``Type/id/_history/n`` location)."""
    found = {}
    for location in locations:
        rtype, rid = location.split("/")[:2]
        found[f"{rtype}/{rid}"] = client.read(rtype, rid)["meta"]["versionId"]
    return found


@pytest.mark.parametrize("strategy", ["put", "conditional"])
def test_a_rerun_leaves_every_resource_at_its_version(
    catalogue: Catalogue, tmp_path: Path, strategy: str
) -> None:
    client, tag = _client(), uuid.uuid4().hex[:8]
    _load(client, _scenario(tag))
    assessment = _assess(client, catalogue, tag)
    outbox = Outbox(tmp_path / "outbox")
    first = deliver(client, to_bundle(assessment, strategy=strategy), scope_of(assessment), outbox)  # type: ignore[arg-type]
    assert first.outcome == "delivered", first.error
    locations = [w.location for w in first.written if w.location]
    assert (
        len(locations) == len(first.written) >= 5
    )  # Device, issue, RequestGroup, GuidanceResponse, Provenance
    before = _versions(client, locations)
    for _ in range(2):
        again = deliver(client, to_bundle(assessment, strategy=strategy), scope_of(assessment), outbox)  # type: ignore[arg-type]
        assert again.outcome == "delivered", again.error
        assert again.created == 0
        assert again.withdrawn == ()
    assert _versions(client, locations) == before


def test_references_inside_the_transaction_are_resolved_by_the_server(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    client, tag = _client(), uuid.uuid4().hex[:8]
    _load(client, _scenario(tag))
    assessment = _assess(client, catalogue, tag)
    bundle = to_bundle(assessment, strategy="conditional")
    assert any(e["fullUrl"].startswith("urn:uuid:") for e in bundle["entry"])
    delivery = deliver(client, bundle, scope_of(assessment), Outbox(tmp_path / "outbox"))
    assert delivery.outcome == "delivered", delivery.error
    written = [w.location.split("/_history/")[0] for w in delivery.written if w.location]
    checked = 0
    for location in written:
        rtype, rid = location.split("/")
        for reference in _references(client.read(rtype, rid)):
            if reference.startswith("#") or reference.startswith("http://fhir-resist.org/"):
                continue  # a contained resource, or a catalogue rule (a logical reference)
            assert not reference.startswith("urn:"), f"{location} kept a placeholder {reference}"
            target_type, target_id = reference.split("/")[:2]
            assert client.read(target_type, target_id)["id"] == target_id
            checked += 1
    assert checked >= 10
    guidance = next(loc for loc in written if loc.startswith("GuidanceResponse/"))
    result = client.read(*guidance.split("/"))["result"]["reference"]
    assert result.split("/")[0] == "RequestGroup" and result in written


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for value in node.values() for r in _references(value)]
    if isinstance(node, list):
        return [r for item in node for r in _references(item)]
    return []


def test_a_stale_issue_is_withdrawn_with_if_match(catalogue: Catalogue, tmp_path: Path) -> None:
    client, tag = _client(), uuid.uuid4().hex[:8]
    scenario = _scenario(tag)
    _load(client, scenario)
    outbox = Outbox(tmp_path / "outbox")
    assessment = _assess(client, catalogue, tag)
    assert deliver(client, to_bundle(assessment), scope_of(assessment), outbox).outcome == "delivered"
    [issue] = _issues(client, tag)
    assert (issue["status"], issue["meta"]["versionId"]) == ("final", "1")

    # The KRAS result is retracted: the issue it raised no longer holds.
    variant = client.read("Observation", f"v-kras-{tag}")
    client.request("PUT", f"Observation/v-kras-{tag}", body=variant | {"status": "entered-in-error"})
    later = _assess(client, catalogue, tag)
    assert later.issues == ()
    delivery = deliver(client, to_bundle(later), scope_of(later), outbox)
    assert delivery.outcome == "delivered", delivery.error
    assert delivery.withdrawn == (f"DetectedIssue/{issue['id']}",)
    [withdrawn] = _issues(client, tag)
    assert (withdrawn["status"], withdrawn["meta"]["versionId"]) == ("cancelled", "2")
    # Withdrawn once: the next run changes nothing.
    assert deliver(client, to_bundle(later), scope_of(later), outbox).withdrawn == ()
    assert client.read("DetectedIssue", issue["id"])["meta"]["versionId"] == "2"


def test_a_withdrawal_on_a_stale_version_is_refused_whole(catalogue: Catalogue) -> None:
    client, tag = _client(), uuid.uuid4().hex[:8]
    _load(client, _scenario(tag))
    assessment = _assess(client, catalogue, tag)
    client.transaction(to_bundle(assessment))
    [issue] = _issues(client, tag)
    changed = issue | {"status": "cancelled"}
    stale = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{client.base}DetectedIssue/{issue['id']}",
                "resource": changed,
                "request": {"method": "PUT", "url": f"DetectedIssue/{issue['id']}", "ifMatch": 'W/"7"'},
            }
        ],
    }
    with pytest.raises(ServerError) as refused:
        client.transaction(stale)
    assert refused.value.status == 409
    assert "HAPI-0989" in str(refused.value)
    assert client.read("DetectedIssue", issue["id"])["status"] == "final"


def test_a_patient_with_more_results_than_one_page_is_read_whole(catalogue: Catalogue) -> None:
    client, tag = _client(), uuid.uuid4().hex[:8]
    scenario = _scenario(tag)
    variant = next(e["resource"] for e in scenario["entry"] if e["resource"]["id"] == f"v-kras-{tag}")
    report = next(
        e["resource"] for e in scenario["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
    )
    extra = []
    for n in range(45):  # past two pages of 20
        copied = copy.deepcopy(variant) | {"id": f"v-extra{n}-{tag}"}
        extra.append({"fullUrl": f"Observation/{copied['id']}", "resource": copied})
    report["result"] = [*report.get("result", []), *({"reference": e["fullUrl"]} for e in extra)]
    scenario["entry"] = [*scenario["entry"][:-1], *extra, scenario["entry"][-1]]
    _load(client, scenario)
    first = client.session.get(
        f"{client.base}Observation",
        params={"patient": f"pat-1-{tag}"},
        headers={"Accept": "application/fhir+json"},
    ).json()
    assert len(first["entry"]) == 20 and any(link["relation"] == "next" for link in first["link"])
    resources = client.patient_resources(f"pat-1-{tag}")
    ids = [r["id"] for r in resources if r["resourceType"] == "Observation"]
    assert len(ids) == len(set(ids)) == 47  # KRAS, BRAF and the 45 copies, each once
    assessment = evaluate(resources, catalogue=catalogue, at=AT)
    assert len(assessment.issues) == 1


def test_a_write_the_server_refuses_is_kept_as_rejected(catalogue: Catalogue, tmp_path: Path) -> None:
    client, tag = _client(), uuid.uuid4().hex[:8]
    scenario = _scenario(tag)  # evaluated locally; the patient is not on the server
    assessment = evaluate([e["resource"] for e in scenario["entry"]], catalogue=catalogue, at=AT)
    assert len(assessment.issues) == 1
    outbox = Outbox(tmp_path / "outbox")
    delivery = deliver(client, to_bundle(assessment), scope_of(assessment), outbox)
    assert delivery.outcome == "rejected"
    assert delivery.error is not None and "HAPI-1094" in delivery.error
    [item], problems = outbox.items()
    assert problems == []
    assert item.state == "rejected"
    assert item.outcome is not None and "HAPI-1094" in item.outcome["issue"][0]["diagnostics"]
    assert item.bundle == to_bundle(assessment)
    # Nothing of the refused transaction was kept.
    assert (
        client.search("GuidanceResponse", [("identifier", f"{terminology.NS_EVALUATION}|{item.key}")]) == []
    )
