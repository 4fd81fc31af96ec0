"""The round-trip tests against a real FHIR server, when ``FHIR_RESIST_TEST_SERVER`` names one.

    FHIR_RESIST_TEST_SERVER=http://localhost:8080/fhir python -m pytest -m server

Each run writes a fresh copy of a scenario patient (ids suffixed with a random tag), evaluates
it from the server, writes the results back twice and checks that the second write created
nothing. Skipped when the variable is not set.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, terminology, to_bundle
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.conformance_load import load_conformance, read_conformance
from fhir_resist.fhir.delivery import deliver, scope_of
from fhir_resist.fhir.outbox import Outbox
from tests.conftest import ROOT, SCENARIOS, load_json, renamed, seed_transaction

SERVER = os.environ.get("FHIR_RESIST_TEST_SERVER")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not SERVER, reason="set FHIR_RESIST_TEST_SERVER to a FHIR R4 base URL"),
]
AT = datetime(2026, 4, 1, 9, tzinfo=UTC)


def _renamed(bundle: dict[str, Any], tag: str, base: str) -> dict[str, Any]:
    """The scenario as a transaction that PUTs its resources under ids suffixed by ``tag``."""
    return seed_transaction(renamed(bundle, tag), base)


@pytest.mark.parametrize("strategy", ["put", "conditional"])
def test_write_read_back_and_rerun(catalogue: Catalogue, tmp_path: Path, strategy: str) -> None:
    assert SERVER
    client = FhirClient(SERVER)
    # Our profiles first, as a hospital loads them: a validating server refuses unknown extensions.
    load_conformance(client, read_conformance(ROOT / "profiles"))
    tag = uuid.uuid4().hex[:8]
    client.transaction(_renamed(load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json"), tag, client.base))
    resources = client.patient_resources(f"pat-1-{tag}")
    assessment = evaluate(resources, catalogue=catalogue, at=AT)
    assert len(assessment.issues) == 1
    outbox = Outbox(tmp_path / "outbox")
    first = deliver(client, to_bundle(assessment, strategy=strategy), scope_of(assessment), outbox)  # type: ignore[arg-type]
    assert first.outcome == "delivered", first.error
    issues = client.search(
        "DetectedIssue", [("patient", f"Patient/pat-1-{tag}"), ("identifier", f"{terminology.NS_FINDING}|")]
    )
    assert len(issues) == 1
    assert [r["reference"] for r in issues[0]["implicated"]] == [
        f"MedicationRequest/mr-cetux-{tag}",
        f"Observation/v-kras-{tag}",
    ]
    second = deliver(client, to_bundle(assessment, strategy=strategy), scope_of(assessment), outbox)  # type: ignore[arg-type]
    assert second.outcome == "delivered"
    assert second.created == 0
    again = client.search(
        "DetectedIssue", [("patient", f"Patient/pat-1-{tag}"), ("identifier", f"{terminology.NS_FINDING}|")]
    )
    assert [i["id"] for i in again] == [i["id"] for i in issues]
