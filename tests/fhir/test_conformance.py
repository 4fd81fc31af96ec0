"""Every output checked against the profile it claims, and departures reported."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.fhir.conformance import conformance_problems
from tests.conftest import EXAMPLES, SCENARIOS, load_json

AT = datetime(2026, 4, 1, tzinfo=UTC)

INPUTS = sorted([*SCENARIOS.glob("*.json"), *EXAMPLES.glob("*.json")])
INPUTS = [p for p in INPUTS if not p.name.endswith(".expect.json")]


@pytest.mark.parametrize("path", INPUTS, ids=[p.name for p in INPUTS])
def test_every_output_conforms_to_its_profile(path: object, catalogue: Catalogue) -> None:
    bundle = to_bundle(evaluate([load_json(path)], catalogue=catalogue, at=AT))  # type: ignore[arg-type]
    for entry in bundle["entry"]:
        assert conformance_problems(entry["resource"], catalogue) == []


def test_a_departure_is_reported(catalogue: Catalogue) -> None:
    bundle = to_bundle(
        evaluate([load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")], catalogue=catalogue, at=AT)
    )
    guidance = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "GuidanceResponse"
    )
    broken = {k: v for k, v in guidance.items() if k != "subject"}
    assert conformance_problems(broken, catalogue) == [
        "GuidanceResponse.subject: 0 found, at least 1 required"
    ]
    issue = {
        "resourceType": "DetectedIssue",
        "status": "final",
        "meta": {"profile": ["http://fhir-resist.org/fhir/StructureDefinition/resistance-detected-issue"]},
        "code": {
            "coding": [
                {"system": "http://fhir-resist.org/fhir/CodeSystem/therapy-implication", "code": "maybe"}
            ]
        },
    }
    problems = "\n".join(conformance_problems(issue, catalogue))
    assert "'maybe' is not in" in problems
    assert "DetectedIssue.implicated: 0 found, at least 2 required" in problems
