"""Anti-EGFR rechallenge: proposed only after acquired resistance that has cleared, after the interval."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from fhir_resist import Catalogue, evaluate, load_catalogue
from fhir_resist.catalogue.schema import Strategy
from fhir_resist.engine.model import IssueSeverity, Offer, TimingCall
from tests.conftest import ROOT, SCENARIOS, load_json

BASE = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")


def _resource(rid: str) -> dict[str, Any]:
    found: dict[str, Any] = copy.deepcopy(
        next(e["resource"] for e in BASE["entry"] if e["resource"]["id"] == rid)
    )
    return found


def _specimen(sid: str, kind: str, day: str) -> dict[str, Any]:
    return {
        "resourceType": "Specimen",
        "id": sid,
        "subject": {"reference": "Patient/pat-1"},
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": kind}]},
        "collection": {"collectedDateTime": day},
    }


def _kras(oid: str, sid: str, present: bool) -> dict[str, Any]:
    obs = _resource("v-kras")
    obs["id"], obs["specimen"] = oid, {"reference": f"Specimen/{sid}"}
    obs["valueCodeableConcept"]["coding"][0]["code"] = "LA9633-4" if present else "LA9634-2"
    return obs


def _fraction(sid: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"tf-{sid}",
        "status": "final",
        "subject": {"reference": "Patient/pat-1"},
        "specimen": {"reference": f"Specimen/{sid}"},
        "code": {"text": "ctDNA tumor fraction"},
        "valueQuantity": {"value": value, "unit": "%", "code": "%"},
    }


def _patient(*, baseline: bool = True, fraction: float | None = 15.0) -> list[dict[str, Any]]:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms-cetux",
        "status": "completed",
        "subject": {"reference": "Patient/pat-1"},
        "medicationCodeableConcept": _resource("mr-cetux")["medicationCodeableConcept"],
        "effectivePeriod": {"start": "2025-01-15", "end": "2025-09-01"},
    }
    resources = [
        _resource("pat-1"),
        _resource("cond-1"),
        statement,
        _specimen("sp-1", "PLAS", "2025-08-20"),
        _kras("kras-progression", "sp-1", True),
        _specimen("sp-2", "PLAS", "2026-02-01"),
        _kras("kras-latest", "sp-2", False),
    ]
    if baseline:
        resources += [_specimen("sp-0", "TUMOR", "2024-12-20"), _kras("kras-baseline", "sp-0", False)]
    if fraction is not None:
        resources.append(_fraction("sp-2", fraction))
    return resources


def _strategies(resources: list[dict[str, Any]], catalogue: Catalogue, when: str) -> Any:
    at = datetime.fromisoformat(when).replace(tzinfo=UTC)
    return evaluate(resources, catalogue=catalogue, at=at)


def test_rechallenge_after_acquired_resistance_has_cleared(catalogue: Catalogue) -> None:
    assessment = _strategies(_patient(), catalogue, "2026-02-10")
    rechallenge = [r for r in assessment.countermeasures if r.countermeasure.strategy is Strategy.RECHALLENGE]
    assert rechallenge
    assert "162 days" in rechallenge[0].reasons[0]
    assert assessment.issues == ()  # the patient is not on cetuximab now


def _rechallenge(assessment: Any, where: str = "countermeasures") -> list[Any]:
    return [r for r in getattr(assessment, where) if r.countermeasure.strategy is Strategy.RECHALLENGE]


def test_rechallenge_after_acquired_resistance_has_cleared_is_offered_without_conditions(
    catalogue: Catalogue,
) -> None:
    assessment = _strategies(_patient(), catalogue, "2026-02-10")
    (offered,) = _rechallenge(assessment)
    assert offered.offer is Offer.OFFERED
    assert offered.needs == ()
    assert _rechallenge(assessment, "withheld") == []


def test_no_rechallenge_before_the_interval_is_withheld_with_the_reason(catalogue: Catalogue) -> None:
    assessment = _strategies(_patient(), catalogue, "2025-11-01")
    assert not _rechallenge(assessment)
    (withheld,) = _rechallenge(assessment, "withheld")
    assert withheld.why[0].startswith("not yet: 61 days since the last dose")
    assert not any("rechallenge" in m.text for m in assessment.messages)  # not "input not used"


def test_cleared_at_unknown_tumour_fraction_offers_rechallenge_as_conditional(catalogue: Catalogue) -> None:
    assessment = _strategies(_patient(fraction=None), catalogue, "2026-02-10")
    (conditional,) = _rechallenge(assessment)
    assert conditional.offer is Offer.CONDITIONAL
    assert "tumour fraction of at least 0.1" in conditional.why[0]
    assert "CHRONOS" in {r.trial for r in conditional.countermeasure.evidence.references}
    assert [n.code for n in conditional.needs] == ["ctdna-tumour-fraction"]
    assert "ctdna-tumour-fraction" in {d.code for d in assessment.data_requirements}


def test_cleared_at_known_low_tumour_fraction_is_undetermined_and_said(catalogue: Catalogue) -> None:
    assessment = _strategies(_patient(fraction=1.0), catalogue, "2026-02-10")
    assert not _rechallenge(assessment)
    (withheld,) = _rechallenge(assessment, "withheld")
    assert withheld.why[0].startswith("undetermined: KRAS")
    assert "tumour fraction 0.01, below the 0.1" in withheld.why[0]
    assert "ctdna-tumour-fraction" in {d.code for d in assessment.data_requirements}


def test_rechallenge_while_the_clone_is_still_seen_is_withheld(catalogue: Catalogue) -> None:
    resources = [r for r in _patient() if r.get("id") != "kras-latest"]
    resources.append(_kras("kras-latest", "sp-2", True))
    assessment = _strategies(resources, catalogue, "2026-02-10")
    (withheld,) = _rechallenge(assessment, "withheld")
    assert "still detected in the latest sample" in withheld.why[0]


def test_no_rechallenge_when_acquisition_cannot_be_shown(catalogue: Catalogue) -> None:
    assessment = _strategies(_patient(baseline=False), catalogue, "2026-02-10")
    assert not [r for r in assessment.countermeasures if r.countermeasure.strategy is Strategy.RECHALLENGE]


def test_no_sample_after_the_stop_asks_for_ctdna_first(catalogue: Catalogue) -> None:
    resources = [r for r in _patient() if r.get("id") not in {"kras-latest", "sp-2", "tf-sp-2"}]
    assessment = _strategies(resources, catalogue, "2026-02-10")
    assert "ctdna-before-rechallenge" in {d.code for d in assessment.data_requirements}
    assert not _rechallenge(assessment)
    assert _rechallenge(assessment, "withheld")[0].why[0].startswith("undetermined: no sample since")


def _reorder(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A new cetuximab order (the rechallenge itself) added to the history."""
    order = _resource("mr-cetux")
    order["id"], order["status"], order["authoredOn"] = "mr-rechallenge", "draft", "2026-03-01"
    return [*resources, order]


def test_re_treatment_after_clearance_is_acquired_and_low_not_primary(catalogue: Catalogue) -> None:
    assessment = _strategies(_reorder(_patient()), catalogue, "2026-03-01T09:00:00")
    (issue,) = [i for i in assessment.issues if i.therapy.source == "MedicationRequest/mr-rechallenge"]
    assert issue.timing is TimingCall.ACQUIRED
    assert issue.severity is IssueSeverity.LOW
    assert "earlier course of cetuximab" in issue.timing_reason
    assert "emerged during an earlier course of cetuximab" in issue.detail
    assert "not detected in the latest sample (2026-02-01)" in issue.detail


def test_re_treatment_while_the_clone_persists_is_acquired_and_high(catalogue: Catalogue) -> None:
    resources = [r for r in _reorder(_patient()) if r.get("id") != "kras-latest"]
    resources.append(_kras("kras-latest", "sp-2", True))
    assessment = _strategies(resources, catalogue, "2026-03-01T09:00:00")
    (issue,) = [i for i in assessment.issues if i.therapy.source == "MedicationRequest/mr-rechallenge"]
    assert (issue.timing.value, issue.severity.value) == ("acquired", "high")


def test_first_treatment_with_a_pre_existing_mutation_stays_primary(catalogue: Catalogue) -> None:
    resources = [r for r in _reorder(_patient()) if r.get("id") not in ("kras-baseline", "ms-cetux")]
    resources.append(_kras("kras-baseline", "sp-0", True))
    assessment = _strategies(resources, catalogue, "2026-03-01T09:00:00")
    (issue,) = assessment.issues
    assert (issue.timing.value, issue.severity.value) == ("primary", "high")


def test_without_rechallenge_evidence_a_cleared_clone_is_not_downgraded(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """The low severity comes from the rule's own rechallenge countermeasure, not from code."""
    copy_dir = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", copy_dir)
    rule = copy_dir / "rules" / "crc-antiegfr" / "crc-antiegfr-kras-ext-ras.yaml"
    data = yaml.safe_load(rule.read_text())
    data["countermeasures"] = [c for c in data["countermeasures"] if c["strategy"] != "rechallenge"]
    rule.write_text(yaml.safe_dump(data, sort_keys=False))
    stricter = load_catalogue(copy_dir)
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    assessment = evaluate(_reorder(_patient()), catalogue=stricter, at=at)
    (issue,) = [i for i in assessment.issues if i.therapy.source == "MedicationRequest/mr-rechallenge"]
    assert (issue.timing.value, issue.severity.value) == ("acquired", "high")
