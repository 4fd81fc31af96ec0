"""Golden tests: every shared clinical scenario, compared on the fields of the output contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, to_bundle
from tests.conftest import SCENARIOS, load_json

CASES = sorted(p.name.removesuffix(".expect.json") for p in SCENARIOS.glob("*.expect.json"))


def _resources(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _codes(issue: dict[str, Any], system_suffix: str) -> set[str]:
    return {
        c["code"]
        for ev in issue.get("evidence", [])
        for concept in ev.get("code", [])
        for c in concept.get("coding", [])
        if c["system"].endswith(system_suffix)
    }


def _refs(issue: dict[str, Any]) -> set[str]:
    return {r["reference"] for r in issue.get("implicated", [])}


def _run(case: str, catalogue: Catalogue) -> tuple[dict[str, Any], dict[str, Any], Any]:
    spec = load_json(SCENARIOS / f"{case}.expect.json")
    bundle_in = load_json(SCENARIOS / f"{case}.json")
    at = datetime.fromisoformat(spec["at"].replace("Z", "+00:00")) if "at" in spec else None
    assessment = evaluate([bundle_in], catalogue=catalogue, at=at)
    return spec["expect"], to_bundle(assessment), assessment


@pytest.mark.parametrize("case", CASES)
def test_scenario(case: str, catalogue: Catalogue) -> None:
    expect, out, _assessment = _run(case, catalogue)
    issues = _resources(out, "DetectedIssue")
    guidance = _resources(out, "GuidanceResponse")
    assert len(guidance) == 1

    if "status" in expect:
        assert guidance[0]["status"] == expect["status"]
    if expect.get("no_issues"):
        assert issues == [], [i["detail"] for i in issues]
    for wanted in expect.get("issues", []):
        matching = [i for i in issues if wanted["med"] in _refs(i) and set(wanted["obs"]) <= _refs(i)]
        assert matching, (
            f"no DetectedIssue for {wanted['med']} x {wanted['obs']}: {[i['detail'] for i in issues]}"
        )
        issue = matching[0]
        if "severity" in wanted:
            assert issue["severity"] in wanted["severity"]
        if "mechanism" in wanted:
            assert wanted["mechanism"] in _codes(issue, "resistance-mechanism")
        if "timing" in wanted:
            assert wanted["timing"] in _codes(issue, "resistance-timing")
    for obs in expect.get("no_issue_with_obs", []):
        assert not [i for i in issues if obs in _refs(i)]
    for med in expect.get("no_high_issue_for", []):
        assert not [i for i in issues if med in _refs(i) and i["severity"] == "high"]
    if "countermeasures_any" in expect:
        text = " ".join(
            str(a.get("title", "")) + " " + str(a.get("description", ""))
            for g in _resources(out, "RequestGroup")
            for a in g.get("action", [])
        ).lower()
        assert any(word.lower() in text for word in expect["countermeasures_any"]), text
    if "implications_any" in expect:
        contained = {c["id"]: c for c in guidance[0].get("contained", [])}
        text = str(contained.get("implications", {})).lower()
        assert any(word.lower() in text for word in expect["implications_any"]), text
    if "messages_mention" in expect:
        contained = {c["id"]: c for c in guidance[0].get("contained", [])}
        text = str(contained["messages"])
        for word in expect["messages_mention"]:
            assert word in text


def test_every_scenario_has_its_bundle() -> None:
    assert len(CASES) >= 13
    assert all((SCENARIOS / f"{c}.json").is_file() for c in CASES)
