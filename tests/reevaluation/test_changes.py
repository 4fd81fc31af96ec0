"""The change report on hand-made before / after results: alerts keyed by clinical content."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import generate
from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.reevaluation.alerts import AlertKey, alerts_of, cited_rules
from fhir_resist.reevaluation.changes import compare

JSON = dict[str, Any]
AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KRAS_CETUXIMAB = AlertKey("crc-antiegfr-kras-ext-ras", "cetuximab", "KRAS p.G12D")


@pytest.fixture(scope="module")
def result(catalogue: Catalogue) -> JSON:
    """The transaction Bundle of a KRAS G12D colorectal cancer with ERBB2 and MET amplified, on
    cetuximab with panitumumab proposed: six alerts."""
    report = generate.panel_report(12, patient_id="chg", cat=catalogue)
    return to_bundle(evaluate([report], catalogue=catalogue, at=AT))


def _issues(bundle: JSON) -> list[JSON]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DetectedIssue"]


def test_an_alert_is_keyed_by_rule_drug_and_finding(result: JSON) -> None:
    alerts = alerts_of([result])
    assert KRAS_CETUXIMAB in alerts
    assert alerts[KRAS_CETUXIMAB].severity == "high"
    assert [c.split(":")[0] for c in alerts[KRAS_CETUXIMAB].countermeasures] == ["clinical-trial", "switch"]
    assert str(KRAS_CETUXIMAB) == "KRAS p.G12D / cetuximab (crc-antiegfr-kras-ext-ras)"


def test_the_same_alerts_with_other_ids_identifiers_and_times_are_unchanged(result: JSON) -> None:
    later = copy.deepcopy(result)
    for issue in _issues(later):
        issue["id"] = "other-id"
        issue["identifier"][0]["value"] = "0" * 32
        issue["identifiedDateTime"] = "2027-01-01T00:00:00Z"
        issue["implicated"] = [{"reference": "MedicationRequest/re-exported"}]
    change = compare(alerts_of([result]), alerts_of([later]))
    assert change.status == "unchanged"
    assert change.unchanged == tuple(sorted(alerts_of([result])))
    assert change.described() == ""


def test_new_withdrawn_severity_and_countermeasures_are_told_apart(result: JSON) -> None:
    before = copy.deepcopy(result)
    after = copy.deepcopy(result)
    (gone,) = [
        i for i in _issues(before) if i["detail"].startswith("KRAS p.G12D predicts resistance to cetuximab")
    ]
    before["entry"] = [e for e in before["entry"] if e["resource"] is not gone]  # after: new
    (kept,) = [i for i in _issues(after) if i["detail"].startswith("ERBB2")][:1]
    key = alerts_of([{"resourceType": "Bundle", "entry": [{"resource": kept}]}]).popitem()[0]
    stale = copy.deepcopy(kept)
    stale["extension"][0]["valueString"] = "crc-retired-rule"
    before["entry"].append({"resource": stale})  # before only: withdrawn
    was = kept["severity"]
    kept["severity"] = "low" if was != "low" else "high"  # severity changed
    kept["mitigation"] = kept["mitigation"][:1]  # and countermeasures changed
    change = compare(alerts_of([before]), alerts_of([after]))
    assert change.status == "changed"
    assert change.new == (KRAS_CETUXIMAB,)
    assert change.withdrawn == (AlertKey("crc-retired-rule", key.drug, key.finding),)
    assert change.severity_changed == ((key, was, kept["severity"]),)
    assert change.countermeasures_changed == (key,)
    assert len(change.unchanged) == len(alerts_of([after])) - 2
    assert change.alerts == len(alerts_of([after]))
    assert change.described().startswith(
        "new: KRAS p.G12D / cetuximab (crc-antiegfr-kras-ext-ras); withdrawn: "
    )


def test_a_withdrawn_or_foreign_issue_is_no_alert(result: JSON) -> None:
    issues = _issues(copy.deepcopy(result))
    issues[0]["status"] = "cancelled"
    issues[1]["identifier"] = [{"system": "http://other.example/ids", "value": "x"}]
    assert len(alerts_of(issues)) == len(issues) - 2


def test_without_an_earlier_result_every_alert_is_new(result: JSON) -> None:
    change = compare(None, alerts_of([result]))
    assert change.status == "first"
    assert change.new == tuple(sorted(alerts_of([result])))


def test_a_sentence_of_another_shape_keys_by_its_first_sentence() -> None:
    issue = {
        "resourceType": "DetectedIssue",
        "identifier": [{"system": "http://fhir-resist.org/fhir/NamingSystem/finding", "value": "v"}],
        "detail": "Something else. More.",
        "mitigation": [{"action": {"coding": [{"code": "monitor"}]}}],
    }
    (alert,) = alerts_of([issue]).values()
    assert alert.key == AlertKey("", "", "Something else")
    assert alert.countermeasures == ("monitor",)


def test_the_rules_a_result_cites(result: JSON) -> None:
    cited = cited_rules([result])
    assert {"crc-antiegfr-kras-ext-ras", "crc-bevacizumab-ras-no-effect"} <= cited
