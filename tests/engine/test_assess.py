"""The engine's decisions: applicability, timing, severity, implications, countermeasures."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_resist import Catalogue, evaluate, read_context
from fhir_resist.catalogue.schema import Mechanism, Strategy
from fhir_resist.domain import Call, Kind, Origin, Severity, Specimen, SpecimenType, Therapy
from fhir_resist.engine.assess import CANCER_TYPE, assess
from fhir_resist.engine.model import IssueSeverity, Status, TimingCall
from tests.conftest import SCENARIOS, load_json, two_cancer_types

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)


def _bundle(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load_json(SCENARIOS / f"{name}.json")
    return data


def _entry(bundle: dict[str, Any], rid: str) -> dict[str, Any]:
    resource: dict[str, Any] = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == rid)
    return resource


def test_kras_g12d_on_cetuximab_is_high_primary_downstream(catalogue: Catalogue) -> None:
    assessment = evaluate([_bundle("crc-kras-g12d-cetuximab")], catalogue=catalogue, at=AT)
    assert assessment.status is Status.SUCCESS
    assert assessment.tumour == "COAD"
    (issue,) = assessment.issues
    assert issue.therapy.source == "MedicationRequest/mr-cetux"
    assert issue.drugs == ("cetuximab",)
    assert issue.finding.observations == ("Observation/v-kras",)
    assert issue.severity is IssueSeverity.HIGH
    assert issue.timing is TimingCall.PRIMARY
    assert issue.finding.rule.mechanism is Mechanism.DOWNSTREAM
    assert "bevacizumab" in {d for r in issue.countermeasures for d in r.countermeasure.drugs}


def test_same_input_in_any_order_gives_the_same_assessment(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    resources = [e["resource"] for e in bundle["entry"]]
    first = evaluate(resources, catalogue=catalogue, at=AT)
    shuffled = resources[:]
    random.Random(7).shuffle(shuffled)
    second = evaluate(shuffled, catalogue=catalogue, at=AT)
    assert [i.identifier for i in first.issues] == [i.identifier for i in second.issues]
    assert first.implications == second.implications
    assert first.countermeasures == second.countermeasures


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(7)))
def test_order_never_changes_the_conclusions(catalogue: Catalogue, order: list[int]) -> None:
    resources = [e["resource"] for e in _bundle("crc-braf-v600e-panitumumab")["entry"]]
    shuffled = [resources[i] for i in order if i < len(resources)] + resources[7:]
    base = evaluate(resources, catalogue=catalogue, at=AT)
    other = evaluate(shuffled, catalogue=catalogue, at=AT)
    assert {i.identifier for i in base.issues} == {i.identifier for i in other.issues}
    assert set(base.implications) == set(other.implications)


def test_no_therapy_gives_implications_and_no_issue(catalogue: Catalogue) -> None:
    assessment = evaluate([_bundle("crc-kras-g12v-no-therapy")], catalogue=catalogue, at=AT)
    assert assessment.issues == ()
    targets = {(i.target, i.effect) for i in assessment.implications}
    assert ("anti-egfr-mab", "resistance") in targets


def test_stopped_therapy_is_not_current(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    _entry(bundle, "mr-cetux")["status"] = "stopped"
    assert evaluate([bundle], catalogue=catalogue, at=AT).issues == ()


def test_germline_variant_does_not_trigger_a_somatic_rule(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    kras = _entry(bundle, "v-kras")
    origin = next(c for c in kras["component"] if c["code"]["coding"][0]["code"] == "48002-0")
    origin["valueCodeableConcept"]["coding"][0]["code"] = "LA6683-2"
    rules = {f.rule.id for f in evaluate([bundle], catalogue=catalogue, at=AT).findings}
    somatic_rules = {r.id for r in catalogue.rules if all(p.origin == "somatic" for p in r.alterations)}
    assert not rules & somatic_rules


def test_missing_tumour_is_data_required(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Condition"]
    assessment = evaluate([bundle], catalogue=catalogue, at=AT)
    assert assessment.status is Status.DATA_REQUIRED
    assert "tumour-type" in {d.code for d in assessment.data_requirements}
    assert assessment.issues == ()


def test_tumour_override(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Condition"]
    assessment = evaluate([bundle], catalogue=catalogue, at=AT, tumour="COADREAD")
    assert assessment.status is Status.SUCCESS and len(assessment.issues) == 1


def test_messages_about_the_cancer_type_name_the_condition_data_not_a_command_line_option(
    catalogue: Catalogue,
) -> None:
    several = evaluate([two_cancer_types()], catalogue=catalogue, at=AT)
    unknown = evaluate([_bundle("crc-kras-g12d-cetuximab")], catalogue=catalogue, at=AT, tumour="NOPE")
    about = [m for a in (several, unknown) for m in a.messages if m.where == CANCER_TYPE]
    assert [m.severity for m in about] == [Severity.WARNING, Severity.ERROR]
    assert "several cancer types are recorded" in about[0].text
    assert "'NOPE', is not an OncoTree code" in about[1].text
    assert not [m for m in about if "--" in m.text]
    assert unknown.tumour == "COAD"  # the recorded Condition is used instead


def test_missing_ras_testing_before_anti_egfr_is_a_data_requirement(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") not in {"v-kras", "v-braf-neg"}]
    needs = {d.code for d in evaluate([bundle], catalogue=catalogue, at=AT).data_requirements}
    assert "crc-extended-ras-braf-before-anti-egfr" in needs
    assert "crc-msi-mmr-status" in needs


def test_acquired_when_absent_before_and_present_after_start(catalogue: Catalogue) -> None:
    context = read_context([_bundle("crc-kras-g12d-cetuximab")])
    kras = next(a for a in context.alterations if a.source == "Observation/v-kras")
    later = replace(kras, specimen="Specimen/sp-2", report=None, observed=date(2026, 9, 1))
    baseline = replace(kras, call=Call.ABSENT, source="Observation/base")
    therapy = replace(context.therapies[0], start=date(2026, 3, 10))
    ctx = replace(
        context,
        alterations=(baseline, later),
        therapies=(therapy,),
        specimens=(*context.specimens, Specimen("Specimen/sp-2", SpecimenType.PLASMA, date(2026, 9, 1))),
    )
    (issue,) = assess(ctx, catalogue, AT).issues
    assert issue.timing is TimingCall.ACQUIRED
    no_baseline = replace(ctx, alterations=(later,))
    (issue2,) = assess(no_baseline, catalogue, AT).issues
    assert issue2.timing is TimingCall.UNDETERMINED


def test_subclonal_tissue_finding_is_one_step_lower(catalogue: Catalogue) -> None:
    context = read_context([_bundle("crc-kras-g12d-cetuximab")])
    low = tuple(replace(a, vaf=0.02) if a.source == "Observation/v-kras" else a for a in context.alterations)
    (issue,) = assess(replace(context, alterations=low), catalogue, AT).issues
    assert issue.severity is IssueSeverity.MODERATE


def test_proposed_therapy_is_primary(catalogue: Catalogue) -> None:
    context = read_context([_bundle("crc-kras-g12d-cetuximab")])
    draft = Therapy(
        "MedicationRequest/draft",
        "MedicationRequest",
        "draft",
        context.therapies[0].codings,
        "cetuximab",
        proposed=True,
    )
    (issue,) = assess(replace(context, therapies=(draft,)), catalogue, AT).issues
    assert issue.timing is TimingCall.PRIMARY
    assert issue.therapy.source == "MedicationRequest/draft"


def test_countermeasures_never_offer_a_drug_another_finding_defeats(catalogue: Catalogue) -> None:
    context = read_context([_bundle("crc-braf-v600e-panitumumab")])
    braf = next(a for a in context.alterations if a.gene == "BRAF" and a.call is Call.PRESENT)
    kras = replace(
        braf,
        gene="KRAS",
        hgnc_id="HGNC:6407",
        source="Observation/kras",
        protein=read_context([_bundle("crc-kras-g12d-cetuximab")]).alterations[0].protein,
        codon=12,
        origin=Origin.SOMATIC,
        kind=Kind.VARIANT,
    )
    assessment = assess(replace(context, alterations=(*context.alterations, kras)), catalogue, AT)
    offered = {d for r in assessment.countermeasures for d in r.countermeasure.drugs}
    assert "cetuximab" not in offered and "panitumumab" not in offered


def test_rechallenge_is_never_offered_for_primary_resistance(catalogue: Catalogue) -> None:
    assessment = evaluate([_bundle("crc-kras-g12d-cetuximab")], catalogue=catalogue, at=AT)
    strategies = {r.countermeasure.strategy.value for r in assessment.countermeasures}
    assert "rechallenge" not in strategies
    assert "switch" in strategies


def test_expression_only_rules_ask_for_their_test(catalogue: Catalogue) -> None:
    needs = {
        d.code
        for d in evaluate([_bundle("crc-ras-wt-panitumumab")], catalogue=catalogue, at=AT).data_requirements
    }
    assert "crc-antiegfr-pten-loss" in needs
    # The tumour is microsatellite stable, so MLH1 methylation (a cause of dMMR) would not change anything.
    assert "crc-antiegfr-mlh1-methylation" not in needs
    untreated = {
        d.code
        for d in evaluate([_bundle("crc-kras-g12v-no-therapy")], catalogue=catalogue, at=AT).data_requirements
    }
    assert "crc-antiegfr-pten-loss" not in untreated


def test_acquired_resistance_asks_for_met_and_erbb2_copy_number(catalogue: Catalogue) -> None:
    at = datetime(2026, 9, 1, tzinfo=UTC)
    needs = {
        d.code
        for d in evaluate(
            [_bundle("crc-egfr-s492r-acquired-cetuximab")], catalogue=catalogue, at=at
        ).data_requirements
    }
    assert "crc-met-erbb2-copy-number-at-progression" in needs
    primary = {
        d.code
        for d in evaluate([_bundle("crc-kras-g12d-cetuximab")], catalogue=catalogue, at=AT).data_requirements
    }
    assert "crc-met-erbb2-copy-number-at-progression" not in primary


def _administration(status: str, day: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "id": "ma-1",
        "status": status,
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": day,
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "318341"}]
        },
    }


def test_recent_administration_counts_as_current(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "MedicationRequest"]
    recent = evaluate([bundle, _administration("completed", "2026-03-20")], catalogue=catalogue, at=AT)
    assert [i.therapy.source for i in recent.issues] == ["MedicationAdministration/ma-1"]
    old = evaluate([bundle, _administration("completed", "2025-12-01")], catalogue=catalogue, at=AT)
    assert old.issues == ()


def test_evidence_from_another_tumour_lowers_severity(catalogue: Catalogue) -> None:
    # pan-tumour BCL2 rule: CLL evidence, lower severity elsewhere ("outside: lower-severity").
    rule = catalogue.rule("pan-tumour-bcl2-venetoclax-resistance")
    assert rule is not None
    assert rule.tumours.outside == "lower-severity"
    from fhir_resist import hgvs
    from fhir_resist.domain import Alteration, Coding, PatientContext

    g101v = hgvs.parse_protein("p.G101V")
    alt = Alteration(
        kind=Kind.VARIANT,
        call=Call.PRESENT,
        source="Observation/b",
        gene="BCL2",
        protein=g101v,
        codon=101,
        consequence="missense",
        origin=Origin.SOMATIC,
    )
    venetoclax = Therapy(
        "MedicationRequest/v",
        "MedicationRequest",
        "active",
        (Coding(None, None, "venetoclax"),),
        "venetoclax",
        proposed=True,
    )
    inside = assess(
        PatientContext("Patient/p", (alt,), (venetoclax,), tumour_override="CLLSLL"), catalogue, AT
    )
    outside = assess(PatientContext("Patient/p", (alt,), (venetoclax,), tumour_override="AML"), catalogue, AT)
    order = ["high", "moderate", "low"]
    assert order.index(outside.issues[0].severity.value) == order.index(inside.issues[0].severity.value) + 1


def _lab(answer: str, drug: str = "cetuximab", derived: str = "Observation/v-kras") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"ti-{answer}",
        "status": "final",
        "subject": {"reference": "Patient/pat-1"},
        "derivedFrom": [{"reference": derived}],
        "code": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs",
                    "code": "therapeutic-implication",
                }
            ]
        },
        "component": [
            {
                "code": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs",
                            "code": "therapeutic-implication",
                        }
                    ]
                },
                "valueCodeableConcept": {"coding": [{"system": "http://loinc.org", "code": answer}]},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "51963-7"}]},
                "valueCodeableConcept": {"text": drug},
            },
        ],
    }


def test_lab_implications_are_compared_never_promoted(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    agree = evaluate([bundle, _lab("LA6676-6")], catalogue=catalogue, at=AT)
    assert any(
        "the catalogue agrees" in m.text for m in agree.messages if m.where == "Observation/ti-LA6676-6"
    )
    disagree = evaluate([bundle, _lab("LA6677-4")], catalogue=catalogue, at=AT)
    assert any("disagree" in m.text for m in disagree.messages)
    unsupported = evaluate([bundle, _lab("LA6676-6", drug="bevacizumab")], catalogue=catalogue, at=AT)
    assert any("no rule supporting it" in m.text for m in unsupported.messages)
    assert len(unsupported.issues) == 1  # only the catalogue's own cetuximab alert


def test_an_unreadable_variant_in_a_rule_gene_is_undetermined_with_a_data_requirement(
    catalogue: Catalogue,
) -> None:
    assessment = evaluate([_bundle("crc-bad-input-mixed")], catalogue=catalogue, at=AT)
    (need,) = [d for d in assessment.data_requirements if d.code == "interpretable-variant"]
    assert "Observation/v-garbage" in need.reason
    assert not [i for i in assessment.issues if "Observation/v-garbage" in i.finding.observations]


def test_gene_code_and_display_that_disagree_are_reported_and_the_code_wins(catalogue: Catalogue) -> None:
    bundle = _bundle("crc-kras-g12d-cetuximab")
    kras = _entry(bundle, "v-kras")
    gene = next(c for c in kras["component"] if c["code"]["coding"][0]["code"] == "48018-6")
    gene["valueCodeableConcept"]["coding"][0]["display"] = "NRAS"
    assessment = evaluate([bundle], catalogue=catalogue, at=AT)
    assert any("HGNC:6407 is KRAS but is displayed as NRAS" in m.text for m in assessment.messages)
    assert assessment.issues[0].finding.trigger.gene == "KRAS"


def test_her2_regimens_for_ras_wild_type_disease_are_not_offered_when_ras_is_mutant(
    catalogue: Catalogue,
) -> None:
    """MyPathway: dual HER2 blockade rarely works with a KRAS mutation (crc-her2-directed-ras-mutation)."""
    from bench import generate

    report = generate.panel_report(20, seed=1, patient_id="her2-pt")  # KRAS G12D and ERBB2 amplification
    assessment = evaluate([report], catalogue=catalogue, at=datetime(2026, 11, 30, tzinfo=UTC))
    issues = [i for i in assessment.issues if i.finding.rule.id == "crc-antiegfr-erbb2-amplification"]
    assert issues
    offered = {r.countermeasure.drugs for issue in issues for r in issue.countermeasures}
    assert ("trastuzumab-deruxtecan",) in offered
    ras_wild_type_only = {
        ("tucatinib", "trastuzumab"),
        ("trastuzumab", "pertuzumab"),
        ("trastuzumab", "lapatinib"),
    }
    assert not ras_wild_type_only & offered
    her2 = [i for i in assessment.implications if i.target in ("trastuzumab", "pertuzumab", "tucatinib")]
    assert her2 and all(i.effect == "resistance" for i in her2)


def test_clinical_trials_of_two_rules_stay_apart(catalogue: Catalogue) -> None:
    """A countermeasure that names no drug is its rule's own: two rules' trials are not one."""
    assessment = evaluate([_bundle("crc-kras-g12d-cetuximab")], catalogue=catalogue, at=AT)
    trials = [r for r in assessment.countermeasures if r.countermeasure.strategy is Strategy.CLINICAL_TRIAL]
    assert sorted(r.rule_ids for r in trials) == [
        ("crc-antiegfr-kras-ext-ras",),
        ("crc-her2-directed-ras-mutation",),
    ]
    assert len({r.countermeasure.condition for r in trials}) == 2


def test_one_countermeasure_of_two_rules_must_meet_the_conditions_of_both() -> None:
    from fhir_resist.catalogue.schema import Countermeasure
    from fhir_resist.engine.countermeasures import _joined

    def cm(condition: str, *requires: dict[str, Any]) -> Countermeasure:
        return Countermeasure.model_validate(
            {
                "strategy": "switch",
                "drugs": ["regorafenib"],
                "condition": condition,
                "requires": list(requires),
                "evidence": {"level": "A", "references": [{"trial": "CORRECT"}]},
            }
        )

    not_before = {"fact": "prior-therapy", "drugs": ["regorafenib"], "received": False}
    later_line = {"fact": "prior-lines", "min": 1}
    first = cm("regorafenib not given before", not_before)
    joined = _joined(first, cm("after earlier lines", later_line, not_before))
    assert [c.fact for c in joined.requires] == ["prior-therapy", "prior-lines"]
    assert joined.condition == "regorafenib not given before; after earlier lines"
    assert _joined(first, cm("same", not_before)) is first
