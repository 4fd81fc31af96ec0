"""The narrative of every resource we write: present, XHTML the FHIR narrative rules allow,
escaped, deterministic, and no reason for the server to keep a new version on a re-run."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.delivery import deliver, scope_of
from fhir_resist.fhir.outbox import Outbox
from fhir_resist.fhir.write.xhtml import XHTML, escape, narrative
from tests.conftest import SCENARIOS, load_json
from tests.engine.test_uncatalogued import K57N_ABSENT_BEFORE, K57N_LATER, ON_BRAF_MEK, V600E
from tests.engine.test_uncatalogued import _assess as assess_uncertain
from tests.hapi import BASE, HapiMock

JSON = dict[str, Any]
AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
KRAS = "crc-kras-g12d-cetuximab"
CASES = sorted(p.name.removesuffix(".expect.json") for p in SCENARIOS.glob("*.expect.json"))
WRITTEN = {"Device", "DetectedIssue", "RequestGroup", "GuidanceResponse", "Provenance"}
# The elements this product's narratives use: a subset of those FHIR allows (txt-1).
USED = {"div", "p", "b"}
HOSTILE = 'Cetuximab <script>alert("x")</script> & <img src=x onerror=alert(1)>\x07'


def checked_text(resource: JSON) -> str:
    """The narrative's words, after checking it as a FHIR narrative: status ``generated``; a
    well-formed ``div`` in the XHTML namespace; only ``p`` and ``b`` inside, no attribute; text."""
    text = resource["text"]
    assert text["status"] == "generated"
    root = ET.fromstring(text["div"])
    assert root.tag == f"{{{XHTML}}}div"
    for element in root.iter():
        assert element.tag.startswith(f"{{{XHTML}}}"), element.tag
        assert element.tag.split("}")[1] in USED, element.tag
        assert element.attrib == {}, element.attrib
    words = "".join(root.itertext())
    assert words.strip()
    return words


def _written(bundle: JSON) -> list[JSON]:
    return [entry["resource"] for entry in bundle["entry"]]


def _kras(catalogue: Catalogue, scenario: JSON | None = None) -> JSON:
    resources = [scenario or load_json(SCENARIOS / f"{KRAS}.json")]
    return to_bundle(evaluate(resources, catalogue=catalogue, at=AT))


@pytest.mark.parametrize("case", CASES)
def test_every_written_resource_of_every_scenario_has_a_valid_narrative(
    case: str, catalogue: Catalogue
) -> None:
    spec = load_json(SCENARIOS / f"{case}.expect.json")
    at = datetime.fromisoformat(spec["at"].replace("Z", "+00:00")) if "at" in spec else AT
    bundle = to_bundle(evaluate([load_json(SCENARIOS / f"{case}.json")], catalogue=catalogue, at=at))
    resources = _written(bundle)
    assert {r["resourceType"] for r in resources} >= WRITTEN - {"DetectedIssue"}
    for resource in resources:
        checked_text(resource)


def test_the_detected_issue_says_effect_severity_finding_drug_evidence_and_what_to_consider(
    catalogue: Catalogue,
) -> None:
    resources = {r["resourceType"]: r for r in _written(_kras(catalogue))}
    words = checked_text(resources["DetectedIssue"])
    assert words.startswith("Resistance (high): KRAS p.G12D predicts resistance to cetuximab")
    assert "evidence level A" in words
    assert "Consider: Switch therapy: bevacizumab; Clinical trial." in words
    assert "Proposed for review" in checked_text(resources["RequestGroup"])
    assert "Switch therapy: bevacizumab" in checked_text(resources["RequestGroup"])
    guidance = checked_text(resources["GuidanceResponse"])
    assert "1 alert: KRAS p.G12D against cetuximab (high)" in guidance
    assert "further results would change the answer" in guidance
    assert "from 4 input resources" in checked_text(resources["Provenance"])
    assert "decision support" in checked_text(resources["Device"])


def test_no_countermeasure_and_no_alert_are_said(catalogue: Catalogue) -> None:
    bundle = to_bundle(
        evaluate([load_json(SCENARIOS / "crc-ras-wt-panitumumab.json")], catalogue=catalogue, at=AT)
    )
    resources = {r["resourceType"]: r for r in _written(bundle)}
    assert "DetectedIssue" not in resources
    assert "no resistance alert" in checked_text(resources["GuidanceResponse"])
    assert checked_text(resources["RequestGroup"]) == "No countermeasure is proposed."


def test_an_uncertain_issue_says_expert_review_and_no_countermeasure(catalogue: Catalogue) -> None:
    result = assess_uncertain(catalogue, "SKCM", ON_BRAF_MEK, V600E, K57N_ABSENT_BEFORE, K57N_LATER)
    resources = _written(to_bundle(result))
    issues = [checked_text(r) for r in resources if r["resourceType"] == "DetectedIssue"]
    assert len(issues) == 2
    for words in issues:
        assert words.startswith("Uncertain resistance significance (low): New variant, not in the catalogue")
        assert "no countermeasure is proposed" in words
    (guidance,) = [r for r in resources if r["resourceType"] == "GuidanceResponse"]
    assert "2 uncatalogued variant findings for expert review" in checked_text(guidance)


def test_hostile_text_from_the_input_is_escaped_not_markup(catalogue: Catalogue) -> None:
    scenario = load_json(SCENARIOS / f"{KRAS}.json")
    for entry in scenario["entry"]:
        if entry["resource"]["id"] == "mr-cetux":
            entry["resource"]["medicationCodeableConcept"]["text"] = HOSTILE
    resources = {r["resourceType"]: r for r in _written(_kras(catalogue, scenario))}
    guidance = resources["GuidanceResponse"]["text"]["div"]
    assert "<script" not in guidance and "<img" not in guidance and "\x07" not in guidance
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; &lt;img' in guidance
    words = checked_text(resources["GuidanceResponse"])
    assert 'Cetuximab <script>alert("x")</script> & <img src=x onerror=alert(1)>\ufffd' in words


def test_escape_replaces_what_xml_cannot_carry() -> None:
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert escape("tab\tline\nreturn\r") == "tab\tline\nreturn\r"
    assert escape("\x00\x1f\ud800\ufffe") == "\ufffd" * 4
    ET.fromstring(narrative(escape("\x01 & \udfff"))["div"])
    assert narrative("", "one")["div"] == f'<div xmlns="{XHTML}"><p>one</p></div>'


def test_the_same_assessment_gives_the_same_narratives(catalogue: Catalogue) -> None:
    first, second = _kras(catalogue), _kras(catalogue)
    assert [r["text"] for r in _written(first)] == [r["text"] for r in _written(second)]


def test_a_withdrawn_issue_says_so_in_its_narrative(
    catalogue: Catalogue, hapi: HapiMock, tmp_path: Path
) -> None:
    client, outbox = FhirClient(BASE), Outbox(tmp_path / "outbox")
    assessment = evaluate([load_json(SCENARIOS / f"{KRAS}.json")], catalogue=catalogue, at=AT)
    deliver(client, to_bundle(assessment), scope_of(assessment), outbox)
    (issue,) = hapi.all("DetectedIssue")
    corrected = load_json(SCENARIOS / f"{KRAS}.json")
    for entry in corrected["entry"]:
        if entry["resource"]["id"] == "v-kras":
            entry["resource"]["status"] = "entered-in-error"
    later = evaluate([corrected], catalogue=catalogue, at=AT)
    assert deliver(client, to_bundle(later), scope_of(later), outbox).outcome == "delivered"
    withdrawn = hapi.history("DetectedIssue", issue["id"])[-1]
    assert withdrawn["status"] == "cancelled"
    words = checked_text(withdrawn)
    assert words.startswith("Withdrawn: KRAS p.G12D predicts resistance to cetuximab")
    assert words.endswith("a later evaluation no longer supports this finding.")


def test_a_rewrite_of_an_unchanged_result_keeps_every_resource_at_its_version(
    catalogue: Catalogue, hapi: HapiMock, tmp_path: Path
) -> None:
    client, outbox = FhirClient(BASE), Outbox(tmp_path / "outbox")
    for _ in range(2):
        assessment = evaluate([load_json(SCENARIOS / f"{KRAS}.json")], catalogue=catalogue, at=AT)
        bundle = to_bundle(assessment)
        assert deliver(client, copy.deepcopy(bundle), scope_of(assessment), outbox).outcome == "delivered"
    for rtype in sorted(WRITTEN):
        for stored in hapi.all(rtype):
            assert stored["text"]["status"] == "generated"
            assert len(hapi.history(rtype, stored["id"])) == 1, rtype
