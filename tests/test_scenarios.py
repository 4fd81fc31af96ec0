"""Golden tests: every shared clinical scenario, compared on the fields of the output contract."""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, to_bundle
from tests.conftest import ROOT, SCENARIOS, load_json

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


# ----------------------------------------------------------------------------- whole clinical content
# The shared expectations name what must be there; these snapshots (tests/data/golden, reviewed
# when made and whenever they change) hold everything a clinician would read, so an extra alert,
# suggestion, withheld option or data requirement fails the test. Regenerate deliberately with
# FHIR_RESIST_UPDATE_GOLDEN=1 and review the diff.

GOLDEN = ROOT / "tests" / "data" / "golden"


def _ext(resource: dict[str, Any], url_suffix: str) -> list[Any]:
    return [
        next(v for k, v in e.items() if k.startswith("value"))
        for e in resource.get("extension", [])
        if e["url"].endswith(url_suffix)
    ]


def clinical_content(bundle: dict[str, Any]) -> dict[str, Any]:
    """Everything clinical in an output Bundle, in a stable order (no ids, times or versions)."""
    (guidance,) = _resources(bundle, "GuidanceResponse")
    (group,) = _resources(bundle, "RequestGroup")
    contained = {c["id"]: c for c in guidance.get("contained", [])}
    params = contained["implications"].get("parameter", [])

    def parts(param: dict[str, Any], name: str) -> list[Any]:
        return [
            next(v for k, v in p.items() if k.startswith("value")) for p in param["part"] if p["name"] == name
        ]

    return {
        "status": guidance["status"],
        "issues": sorted(
            (
                {
                    "medication": i["implicated"][0]["reference"],
                    "observations": sorted(r["reference"] for r in i["implicated"][1:]),
                    "rule": _ext(i, "/rule-id")[0],
                    "severity": i["severity"],
                    "mechanism": sorted(_codes(i, "resistance-mechanism")),
                    "timing": sorted(_codes(i, "resistance-timing")),
                    "detail": i["detail"],
                    "mitigation": [m["action"]["text"] for m in i.get("mitigation", [])],
                }
                for i in _resources(bundle, "DetectedIssue")
            ),
            key=lambda i: (i["medication"], i["rule"]),
        ),
        "countermeasures": [
            {
                "title": a["title"],
                "offer": _ext(a, "/countermeasure-offer")[0]["code"],
                "rules": _ext(a, "/rule-id"),
            }
            for a in group.get("action", [])
        ],
        "withheld": [
            {"countermeasure": parts(p, "countermeasure")[0], "reasons": parts(p, "reason")}
            for p in params
            if p["name"] == "withheld-countermeasure"
        ],
        "regimen_exceptions": [
            {"therapy": parts(p, "therapy")[0]["reference"], "rule": parts(p, "rule")[0]}
            for p in params
            if p["name"] == "regimen-exception"
        ],
        "implications": sorted(
            f"{parts(p, 'target')[0]['code']}: {parts(p, 'implication')[0]['code']}"
            for p in params
            if p["name"] == "therapy-implication"
        ),
        "data_requirements": [
            {"code": c["code"], "reason": _ext(d, "/data-requirement-reason")[0]}
            for d in guidance.get("dataRequirement", [])
            for f in d["codeFilter"]
            for c in f["code"]
        ],
    }


@pytest.mark.parametrize("case", CASES)
def test_scenario_whole_clinical_content(case: str, catalogue: Catalogue) -> None:
    _expect, out, _assessment = _run(case, catalogue)
    content = clinical_content(out)
    path = GOLDEN / f"{case}.json"
    if os.environ.get("FHIR_RESIST_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
    assert content == load_json(path)


def test_whole_content_comparison_catches_an_extra_alert(catalogue: Catalogue) -> None:
    _expect, out, _assessment = _run("crc-kras-bevacizumab", catalogue)
    clean = clinical_content(out)
    extra = copy.deepcopy(out)
    kras = _run("crc-kras-g12d-cetuximab", catalogue)[1]
    extra["entry"] += [e for e in kras["entry"] if e["resource"]["resourceType"] == "DetectedIssue"]
    assert clinical_content(extra) != clean
    assert len(clinical_content(extra)["issues"]) == len(clean["issues"]) + 1
