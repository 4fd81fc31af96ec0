"""The output transaction Bundle: shape, identifiers, references and FHIR validity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir_resist import Catalogue, evaluate, terminology, to_bundle
from fhir_resist.fhir.r4 import validated
from tests.conftest import SCENARIOS, load_json

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)


def _out(name: str, catalogue: Catalogue) -> dict[str, Any]:
    return to_bundle(evaluate([load_json(SCENARIOS / f"{name}.json")], catalogue=catalogue, at=AT))


def _of(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def test_transaction_with_one_guidance_response_and_one_issue(catalogue: Catalogue) -> None:
    bundle = _out("crc-kras-g12d-cetuximab", catalogue)
    assert bundle["type"] == "transaction"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("GuidanceResponse") == 1
    assert kinds.count("DetectedIssue") == 1
    assert kinds.count("RequestGroup") == 1
    assert kinds.count("Provenance") == 1
    assert kinds.count("Device") == 1
    for entry in bundle["entry"]:
        assert entry["fullUrl"].startswith("urn:uuid:")
        resource = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
        assert resource["id"].startswith("fr-") and not resource["id"].isdigit()
        assert len(resource["id"]) <= 64
        validated(resource)


def test_conditional_strategy_creates_on_our_identifiers(catalogue: Catalogue) -> None:
    assessment = evaluate([load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")], catalogue=catalogue, at=AT)
    bundle = to_bundle(assessment, strategy="conditional")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert "id" not in resource
        assert entry["request"]["method"] == "POST"
        assert entry["request"]["url"] == resource["resourceType"]
        if resource["resourceType"] == "Provenance":
            (tag,) = resource["meta"]["tag"]
            assert entry["request"]["ifNoneExist"] == f"_tag={tag['system']}|{tag['code']}"
        else:
            (ident,) = resource["identifier"]
            assert entry["request"]["ifNoneExist"] == f"identifier={ident['system']}|{ident['value']}"


def test_both_strategies_carry_the_same_resources(catalogue: Catalogue) -> None:
    assessment = evaluate([load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")], catalogue=catalogue, at=AT)
    put, conditional = to_bundle(assessment), to_bundle(assessment, strategy="conditional")
    strip = [{k: v for k, v in e["resource"].items() if k != "id"} for e in put["entry"]]
    assert strip == [e["resource"] for e in conditional["entry"]]
    assert [e["fullUrl"] for e in put["entry"]] == [e["fullUrl"] for e in conditional["entry"]]


def test_detected_issue_contract(catalogue: Catalogue) -> None:
    (issue,) = _of(_out("crc-kras-g12d-cetuximab", catalogue), "DetectedIssue")
    assert issue["meta"]["profile"] == [terminology.SD_DETECTED_ISSUE]
    assert issue["status"] == "final"
    assert issue["severity"] == "high"
    assert issue["patient"] == {"reference": "Patient/pat-1"}
    assert [r["reference"] for r in issue["implicated"]] == [
        "MedicationRequest/mr-cetux",
        "Observation/v-kras",
    ]
    (evidence,) = issue["evidence"]
    systems = {c["system"]: c["code"] for c in evidence["code"][0]["coding"]}
    assert systems == {terminology.CS_MECHANISM: "downstream", terminology.CS_TIMING: "primary"}
    assert evidence["detail"] == [{"reference": "Observation/v-kras"}]
    assert issue["identifier"][0]["system"] == terminology.NS_FINDING
    assert issue["reference"].startswith(terminology.RULE_URL)
    extensions = {e["url"] for e in issue["extension"]}
    assert extensions == {
        terminology.EXT_RULE,
        terminology.EXT_CATALOGUE_VERSION,
        terminology.EXT_EVIDENCE_LEVEL,
    }
    actions = [m["action"]["coding"][0]["code"] for m in issue["mitigation"]]
    assert actions and actions[0] == "switch"
    assert "bevacizumab" in issue["mitigation"][0]["action"]["text"]
    assert "KRAS p.G12D" in issue["detail"]


def test_guidance_response_contract(catalogue: Catalogue) -> None:
    bundle = _out("crc-kras-g12d-cetuximab", catalogue)
    (guidance,) = _of(bundle, "GuidanceResponse")
    assert guidance["moduleCanonical"] == f"{terminology.PLAN}|{catalogue.version}"
    assert guidance["status"] == "success"
    assert guidance["subject"] == {"reference": "Patient/pat-1"}
    contained = {c["id"]: c for c in guidance["contained"]}
    implications = contained["implications"]["parameter"]
    assert all(p["name"] == "therapy-implication" for p in implications)
    group_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RequestGroup")
    assert guidance["result"] == {"reference": group_url}
    assert {"reference": "Observation/v-kras"} in guidance["reasonReference"]
    (group,) = _of(bundle, "RequestGroup")
    drug_codes = {
        c["code"] for a in group["action"] for concept in a["code"] for c in concept.get("coding", [])
    }
    assert "253337" in drug_codes  # bevacizumab, RxNorm


def test_rerun_gives_identical_identifiers(catalogue: Catalogue) -> None:
    first = _out("crc-kras-g12d-cetuximab", catalogue)
    second = _out("crc-kras-g12d-cetuximab", catalogue)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert [e["request"] for e in first["entry"]] == [e["request"] for e in second["entry"]]


def test_messages_travel_in_the_operation_outcome(catalogue: Catalogue) -> None:
    (guidance,) = _of(_out("crc-bad-input-mixed", catalogue), "GuidanceResponse")
    outcome = {c["id"]: c for c in guidance["contained"]}["messages"]
    expressions = [x for issue in outcome["issue"] for x in issue.get("expression", [])]
    assert any("v-garbage" in x for x in expressions)
    assert any("v-eie" in x for x in expressions)


def test_provenance_links_outputs_and_inputs(catalogue: Catalogue) -> None:
    bundle = _out("crc-kras-g12d-cetuximab", catalogue)
    (provenance,) = _of(bundle, "Provenance")
    targets = {t["reference"] for t in provenance["target"]}
    urls = {
        e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] in {"GuidanceResponse", "DetectedIssue", "RequestGroup"}
    }
    assert targets == urls
    sources = {e["what"]["reference"] for e in provenance["entity"]}
    assert {"Observation/v-kras", "MedicationRequest/mr-cetux"} <= sources


def test_drug_codings_carry_only_the_cancer_atc_code(catalogue: Catalogue) -> None:
    from fhir_resist.fhir.write import drug_concept

    assert catalogue.drugs["bevacizumab"].codes.atc == ("L01FG01", "S01LA08")
    atc = [
        c["code"] for c in drug_concept("bevacizumab", catalogue)["coding"] if c["system"] == terminology.ATC
    ]
    assert atc == ["L01FG01"]


def test_a_report_stands_for_its_results_except_those_findings_rest_on(catalogue: Catalogue) -> None:
    bundle = _out("crc-kras-g12d-cetuximab", catalogue)
    (guidance,) = _of(bundle, "GuidanceResponse")
    reasons = [r["reference"] for r in guidance["reasonReference"]]
    assert reasons == ["Observation/v-kras", "DiagnosticReport/dr-1"] or reasons == [
        "DiagnosticReport/dr-1",
        "Observation/v-kras",
    ]
    (provenance,) = _of(bundle, "Provenance")
    named = {e["what"]["reference"] for e in provenance["entity"]}
    assert "Observation/v-braf-neg" not in named  # a pertinent negative inside the report
    assert {"Condition/cond-1", "MedicationRequest/mr-cetux", "DiagnosticReport/dr-1"} <= named


def test_a_standalone_observation_is_named(catalogue: Catalogue) -> None:
    scenario = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    scenario["entry"] = [e for e in scenario["entry"] if e["resource"]["resourceType"] != "DiagnosticReport"]
    (guidance,) = _of(to_bundle(evaluate([scenario], catalogue=catalogue, at=AT)), "GuidanceResponse")
    assert {"reference": "Observation/v-braf-neg"} in guidance["reasonReference"]


def _request_groups(catalogue: Catalogue) -> list[tuple[str, dict[str, Any]]]:
    names = sorted(p.name.removesuffix(".json") for p in SCENARIOS.glob("*.json"))
    return [
        (name, group)
        for name in names
        if not name.endswith(".expect")
        for group in _of(_out(name, catalogue), "RequestGroup")
    ]


def test_every_countermeasure_action_proposes_contained_requests(catalogue: Catalogue) -> None:
    """rqg-1: an action has a resource or sub-actions, not both; dom-3: each contained request is
    referenced from the group; each request is a draft proposal about the patient."""
    kinds: set[str] = set()
    for name, group in _request_groups(catalogue):
        contained = {c["id"]: c for c in group.get("contained", [])}
        referenced: list[str] = []
        for action in group.get("action", []):
            leaves = action.get("action", [action])
            assert ("resource" in action) != ("action" in action), (name, action["title"])
            for leaf in leaves:
                assert "action" not in leaf
                referenced.append(leaf["resource"]["reference"].removeprefix("#"))
        assert sorted(referenced) == sorted(contained), name
        for request in contained.values():
            assert (request["status"], request["intent"]) == ("draft", "proposal")
            assert request["subject"] == group["subject"]
            kinds.add(request["resourceType"])
    assert kinds == {"MedicationRequest", "ServiceRequest"}


def test_a_combination_is_proposed_whole_and_a_drug_as_prescribable(catalogue: Catalogue) -> None:
    bundle = _out("crc-braf-v600e-panitumumab", catalogue)
    (group,) = _of(bundle, "RequestGroup")
    contained = {f"#{c['id']}": c for c in group["contained"]}
    combine = next(a for a in group["action"] if a["code"][0]["coding"][0]["code"] == "combine")
    assert combine["selectionBehavior"] == "all" and len(combine["action"]) >= 2
    drugs = [contained[a["resource"]["reference"]] for a in combine["action"]]
    assert [d["medicationCodeableConcept"]["text"] for d in drugs] == [a["title"] for a in combine["action"]]
    systems = {c["system"] for d in drugs for c in d["medicationCodeableConcept"].get("coding", [])}
    assert terminology.RXNORM in systems
    assert systems <= {terminology.RXNORM, terminology.ATC, terminology.NCIT}


def test_a_trial_is_a_referral_coded_as_the_countermeasure(catalogue: Catalogue) -> None:
    (group,) = _of(_out("crc-kras-g12d-cetuximab", catalogue), "RequestGroup")
    contained = {f"#{c['id']}": c for c in group["contained"]}
    trial = next(a for a in group["action"] if a["title"] == "Clinical trial")
    referral = contained[trial["resource"]["reference"]]
    assert referral["resourceType"] == "ServiceRequest"
    assert referral["code"]["coding"] == [trial["code"][0]["coding"][0]]
    assert referral["code"]["text"].startswith("Clinical trial: ")


def test_without_a_patient_the_proposals_say_so(catalogue: Catalogue) -> None:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    for entry in bundle["entry"]:
        entry["resource"].pop("subject", None)
    (group,) = _of(to_bundle(evaluate([bundle], catalogue=catalogue, at=AT)), "RequestGroup")
    assert "subject" not in group
    assert {c["subject"]["display"] for c in group.get("contained", [])} <= {
        "patient not identified in the input"
    }
