"""Our profiles on a real HAPI FHIR server, and what we write checked by HAPI's validator.

    FHIR_RESIST_TEST_SERVER=http://127.0.0.1:8080/fhir python -m pytest -m server

``fhir-resist profiles --load`` puts profiles/ on the server; each resource a delivery writes is
then sent to ``$validate``. Skipped when the variable is not set.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.conformance_load import load_conformance, read_conformance
from tests.conftest import ROOT, SCENARIOS, load_json, renamed, seed_transaction

SERVER = os.environ.get("FHIR_RESIST_TEST_SERVER")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not SERVER, reason="set FHIR_RESIST_TEST_SERVER to a FHIR R4 base URL"),
]
JSON = dict[str, Any]
AT = datetime(2026, 4, 1, 9, tzinfo=UTC)


def test_profiles_load_and_load_again_unchanged() -> None:
    assert SERVER
    client = FhirClient(SERVER)
    resources = read_conformance(ROOT / "profiles")
    first = load_conformance(client, resources)
    assert [r.outcome for r in first if r.outcome == "refused"] == []
    again = load_conformance(client, resources)
    assert {r.outcome for r in again} == {"unchanged"}


def _validation_issues(catalogue: Catalogue) -> dict[str, list[str]]:
    """Errors and warnings of ``$validate`` for each resource a delivery wrote, by resource type."""
    assert SERVER
    client = FhirClient(SERVER)
    load_conformance(client, read_conformance(ROOT / "profiles"))
    tag = uuid.uuid4().hex[:8]
    scenario = renamed(load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json"), tag)
    client.transaction(seed_transaction(scenario, client.base))
    assessment = evaluate(client.patient_resources(f"pat-1-{tag}"), catalogue=catalogue, at=AT)
    written = client.transaction(to_bundle(assessment))
    found: dict[str, list[str]] = {}
    for entry in written["entry"]:
        rtype, rid = entry["response"]["location"].split("/")[:2]
        resource = client.read(rtype, rid)
        response = client.session.post(
            f"{client.base}{rtype}/$validate",
            json=resource,
            headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
        )
        outcome = response.json()
        found.setdefault(rtype, []).extend(
            f"{issue['severity']}: {issue.get('diagnostics', '')}"
            for issue in outcome.get("issue", [])
            if issue.get("severity") in ("error", "fatal", "warning")
        )
    return found


def _ours(issues: list[str]) -> list[str]:
    """Errors, and warnings about our own profiles and code systems (not HL7 best practice)."""
    return [i for i in issues if i.startswith(("error", "fatal")) or "fhir-resist.org" in i]


def test_what_we_write_validates_against_our_profiles(catalogue: Catalogue, tmp_path: Path) -> None:
    found = _validation_issues(catalogue)
    assert set(found) >= {"Device", "DetectedIssue", "RequestGroup", "GuidanceResponse", "Provenance"}
    assert {rtype: _ours(issues) for rtype, issues in found.items()} == {rtype: [] for rtype in found}


def test_what_we_write_carries_the_narrative_hapi_asks_for(catalogue: Catalogue) -> None:
    """No dom-6 ("A resource should have narrative") for any resource a delivery writes."""
    found = _validation_issues(catalogue)
    assert set(found) >= {"Device", "DetectedIssue", "RequestGroup", "GuidanceResponse", "Provenance"}
    assert {rtype: [i for i in issues if "dom-6" in i] for rtype, issues in found.items()} == {
        rtype: [] for rtype in found
    }
