"""Dose-scoped findings: KIT exon 9 GIST on imatinib alerts below 800 mg/day, not at or above it,
and asks for the dose when it is not structured."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_resist import hgvs, to_bundle
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import DailyDoseBelow
from fhir_resist.domain import Alteration, Call, Coding, DailyDose, Kind, Origin, PatientContext, Therapy
from fhir_resist.engine.assess import assess
from fhir_resist.engine.conditions import Facts, Outcome, judge
from fhir_resist.engine.doses import THERAPY_DOSE, DoseCall, dose_call, in_dose_scope
from fhir_resist.engine.model import Assessment, IssueSeverity, Offer
from fhir_resist.fhir.read.dosage import daily_dose
from fhir_resist.fhir.write.wording import offer_text

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
RULE = "gist-kit-exon9-imatinib-dose"
INCREASE = "increase-dose imatinib"


def _kit(protein: str = "A502_Y503dup") -> Alteration:
    change = hgvs.parse_protein(f"p.{protein}")
    return Alteration(
        kind=Kind.VARIANT,
        call=Call.PRESENT,
        source="Observation/kit",
        gene="KIT",
        protein=change,
        codon=change.start,
        consequence=change.consequence,
        origin=Origin.SOMATIC,
        label=f"KIT {protein}",
    )


def _therapy(drug: str = "imatinib", dose: DailyDose | None = None, source: str = "") -> Therapy:
    return Therapy(
        source=source or f"MedicationRequest/{drug}",
        resource_type="MedicationRequest",
        status="active",
        codings=(Coding(None, None, drug),),
        text=drug,
        daily_dose=dose,
    )


def _assess(catalogue: Catalogue, *therapies: Therapy, protein: str = "A502_Y503dup") -> Assessment:
    context = PatientContext(
        patient="Patient/p",
        alterations=(_kit(protein),),
        therapies=therapies,
        tumour_override="GIST",
    )
    return assess(context, catalogue, AT)


def _offer(assessment: Assessment, key: str) -> Any:
    return next(
        r
        for r in (*assessment.countermeasures, *assessment.withheld)
        if r.countermeasure.key == key and RULE in r.rule_ids
    )


def _dose_needs(assessment: Assessment) -> list[Any]:
    return [n for n in assessment.data_requirements if n.code == THERAPY_DOSE]


def test_below_800_mg_a_day_is_a_moderate_reduced_response(catalogue: Catalogue) -> None:
    result = _assess(catalogue, _therapy(dose=DailyDose(400, 400)))
    (issue,) = [i for i in result.issues if i.finding.rule.id == RULE]
    assert issue.severity is IssueSeverity.MODERATE
    assert "predicts a reduced response to imatinib" in issue.detail
    assert "Daily dose: imatinib at 400 mg/day, below 800 mg/day." in issue.detail
    increase = _offer(result, INCREASE)
    # the dose condition is met; only the (unstructured) setting keeps it conditional
    assert increase.offer is Offer.CONDITIONAL
    assert [n.code for n in increase.needs] == ["countermeasure-setting"]
    assert not _dose_needs(result)
    assert increase in issue.countermeasures
    assert offer_text(increase, catalogue).startswith(
        "CONDITIONAL increase-dose: imatinib 400 mg twice a day (800 mg/day) (unresectable or metastatic"
    )


def test_at_or_above_800_mg_a_day_there_is_no_alert(catalogue: Catalogue) -> None:
    for dose in (DailyDose(800, 800), DailyDose(1000, 1000)):
        result = _assess(catalogue, _therapy(dose=dose))
        assert [f.rule.id for f in result.findings] == [RULE]
        assert not [i for i in result.issues if i.finding.rule.id == RULE]
        increase = _offer(result, INCREASE)
        assert increase.offer is Offer.WITHHELD
        assert increase.why == (f"imatinib at {dose.label}, not below 800 mg/day",)
        assert not _dose_needs(result)
        # what the finding implies is said of the doses the rule is about, not of imatinib as such
        implied = [i for i in result.implications if RULE in i.rule_ids]
        assert [(i.target, i.name, i.effect) for i in implied] == [
            ("imatinib", "imatinib below 800 mg/day", "reduced-response")
        ]


@pytest.mark.parametrize(
    ("dose", "words"),
    [
        (None, "imatinib: no structured daily dose in mg"),
        (DailyDose(400, 1200), "imatinib at 400-1200 mg/day, which spans 800 mg/day"),
    ],
)
def test_an_unknown_dose_is_undetermined_and_asked_for(
    catalogue: Catalogue, dose: DailyDose | None, words: str
) -> None:
    result = _assess(catalogue, _therapy(dose=dose))
    assert not [i for i in result.issues if i.finding.rule.id == RULE]
    (need,) = _dose_needs(result)  # the finding's and the option's reasons, joined
    assert need.reason.split("; ") == [
        f"MedicationRequest/imatinib ({words}): whether KIT A502_Y503dup affects it "
        f"({RULE}, below 800 mg/day) is undetermined without the dose",
        f"the option is for imatinib below 800 mg/day: MedicationRequest/imatinib ({words})",
    ]
    increase = _offer(result, INCREASE)
    assert increase.offer is Offer.CONDITIONAL
    assert {n.code for n in increase.needs} == {THERAPY_DOSE, "countermeasure-setting"}


def test_not_on_imatinib_no_higher_dose_and_no_dose_asked(catalogue: Catalogue) -> None:
    result = _assess(catalogue, _therapy("sunitinib"))
    assert not result.issues
    increase = _offer(result, INCREASE)
    assert increase.offer is Offer.WITHHELD and increase.why == ("no current imatinib therapy",)
    assert not _dose_needs(result)


def test_other_kit_exons_and_rules_without_a_dose_scope_are_unaffected(catalogue: Catalogue) -> None:
    exon11 = _assess(catalogue, _therapy(dose=DailyDose(400, 400)), protein="W557_K558del")
    assert not exon11.findings and not _dose_needs(exon11)
    # a rule without a dose scope alerts whatever the dose, and never asks for it
    secondary = _assess(catalogue, _therapy(dose=None), protein="V654A")
    (issue,) = secondary.issues
    assert issue.finding.rule.id == "gist-kit-secondary-atp-pocket"
    assert in_dose_scope(issue.finding.rule, issue.therapy)
    assert not _dose_needs(secondary)


def test_dose_call_against_a_limit() -> None:
    assert dose_call(_therapy(dose=DailyDose(799.5, 799.5)), 800) is DoseCall.BELOW
    assert dose_call(_therapy(dose=DailyDose(800, 800)), 800) is DoseCall.NOT_BELOW
    assert dose_call(_therapy(dose=DailyDose(600, 800)), 800) is DoseCall.UNKNOWN
    assert dose_call(_therapy(dose=None), 800) is DoseCall.UNKNOWN


def test_the_condition_weighs_every_current_therapy_with_the_drug(catalogue: Catalogue) -> None:
    condition = DailyDoseBelow(fact="daily-dose", drug="imatinib", below_mg=800)
    low = _therapy(dose=DailyDose(400, 400), source="MedicationRequest/a")
    unknown = _therapy(dose=None, source="MedicationRequest/b")
    high = _therapy(dose=DailyDose(800, 800), source="MedicationRequest/c")

    def verdict(*therapies: Therapy) -> Any:
        current = tuple((t, ("imatinib",)) for t in therapies)
        return judge(condition, Facts(catalogue, "GIST", (), (), (), (), current), None)

    assert verdict(low).outcome is Outcome.MET
    both = verdict(low, unknown)
    assert both.outcome is Outcome.UNKNOWN and both.need is not None
    assert both.need.reason == (
        "the option is for imatinib below 800 mg/day: "
        "MedicationRequest/b (imatinib: no structured daily dose in mg)"
    )
    assert verdict(low, unknown, high).outcome is Outcome.NOT_MET
    assert verdict().outcome is Outcome.NOT_MET


def test_the_higher_dose_is_proposed_as_a_structured_dosage_that_reads_back(catalogue: Catalogue) -> None:
    bundle = to_bundle(_assess(catalogue, _therapy(dose=DailyDose(400, 400))), validate=True)
    (group,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "RequestGroup"]
    action = next(a for a in group["action"] if a["code"][0]["coding"][0]["code"] == "increase-dose")
    assert action["code"][0]["coding"][0]["display"] == "Increase the dose"
    contained = {f"#{c['id']}": c for c in group["contained"]}
    request = contained[action["resource"]["reference"]]
    assert request["resourceType"] == "MedicationRequest"
    assert request["dosageInstruction"][0]["text"] == "400 mg twice a day (800 mg/day)"
    assert daily_dose(request) == DailyDose(800, 800)
