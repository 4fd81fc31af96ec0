"""Run every rule's own test cases through the real engine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from fhir_resist import hgvs
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Case, CaseAlteration, Rule
from fhir_resist.domain import (
    Alteration,
    Call,
    CnvCall,
    Coding,
    DailyDose,
    Kind,
    MsiStatus,
    Origin,
    PatientContext,
    Therapy,
)
from fhir_resist.engine.model import Offer
from fhir_resist.errors import HgvsError

CASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
# A case's ``prior`` regimen: given together and stopped before the case's time.
PRIOR_START = date(2025, 1, 1)
PRIOR_END = date(2025, 6, 1)


def run_cases(catalogue: Catalogue) -> list[str]:
    """Failures as ``rule-id: case name: what went wrong``; empty when all cases pass."""
    failures: list[str] = []
    for rule in catalogue.rules:
        for case in rule.cases:
            try:
                outcome = case_outcome(catalogue, rule, case)
            except HgvsError as exc:
                failures.append(f"{rule.id}: {case.name}: {exc}")
                continue
            failures += [f"{rule.id}: {case.name}: {problem}" for problem in _problems(case, outcome)]
    return failures


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    """What the engine made of a case for its rule: match, the alert's severity, the countermeasures."""

    matched: bool
    severity: str  # "high" | "moderate" | "low" | "none" (matched but no alert on the drug)
    offers: dict[str, tuple[str, ...]]  # offered / conditional / withheld -> countermeasure keys
    requirements: tuple[str, ...] = ()  # the data requirement codes raised


def case_matches(catalogue: Catalogue, rule: Rule, case: Case) -> bool:
    """Whether the engine applies ``rule`` to the case's drug for the case's findings."""
    return case_outcome(catalogue, rule, case).matched


def case_outcome(catalogue: Catalogue, rule: Rule, case: Case) -> CaseOutcome:
    from fhir_resist.engine.assess import assess

    alterations = [
        _alteration(a, Call.PRESENT, f"Observation/case-{i}") for i, a in enumerate(case.alterations)
    ]
    alterations += [
        _alteration(a, Call.ABSENT, f"Observation/case-absent-{i}") for i, a in enumerate(case.absent)
    ]
    ordered = _therapy(catalogue, case.drug, "MedicationRequest/case")
    if case.dose is not None:
        ordered = replace(ordered, daily_dose=DailyDose(case.dose, case.dose))
    therapies = [ordered]
    therapies += [_therapy(catalogue, d, f"MedicationRequest/case-with-{d}") for d in case.with_]
    therapies += [
        replace(
            _therapy(catalogue, d, f"MedicationStatement/case-prior-{d}"),
            resource_type="MedicationStatement",
            status="completed",
            proposed=False,
            start=PRIOR_START,
            end=PRIOR_END,
        )
        for d in case.prior
    ]
    context = PatientContext(
        patient="Patient/case",
        alterations=tuple(alterations),
        therapies=tuple(therapies),
        tumour_override=case.tumour,
    )
    assessment = assess(context, catalogue, CASE_TIME)
    matched = any(
        f.rule.id == rule.id and case.drug in catalogue.members(rule.therapies) for f in assessment.findings
    )
    issue = next(
        (i for i in assessment.issues if i.finding.rule.id == rule.id and i.therapy.source == ordered.source),
        None,
    )
    offers: dict[str, list[str]] = {o.value: [] for o in Offer}
    for rec in (*assessment.countermeasures, *assessment.withheld):
        if rule.id in rec.rule_ids:
            offers[rec.offer.value].append(rec.countermeasure.key)
    return CaseOutcome(
        matched,
        issue.severity.value if issue is not None else "none",
        {k: tuple(v) for k, v in offers.items()},
        tuple(need.code for need in assessment.data_requirements),
    )


def _problems(case: Case, outcome: CaseOutcome) -> list[str]:
    if outcome.matched != (case.expect == "match"):
        return [f"expected {case.expect}, got {'match' if outcome.matched else 'no-match'}"]
    problems = []
    if case.severity is not None and outcome.severity != case.severity:
        problems.append(f"expected severity {case.severity}, got {outcome.severity}")
    for offer, wanted in (
        (Offer.OFFERED, case.offered),
        (Offer.CONDITIONAL, case.conditional),
        (Offer.WITHHELD, case.withheld),
    ):
        got = outcome.offers[offer.value]
        if wanted is not None and sorted(wanted) != sorted(got):
            problems.append(f"expected {offer.value} {sorted(wanted)}, got {sorted(got)}")
    missing = sorted(set(case.requirements or ()) - set(outcome.requirements))
    if missing:
        problems.append(f"expected data requirements {missing}, got {sorted(set(outcome.requirements))}")
    return problems


def _therapy(catalogue: Catalogue, drug: str, source: str) -> Therapy:
    name = catalogue.drugs[drug].name
    return Therapy(
        source=source,
        resource_type="MedicationRequest",
        status="draft",
        codings=(Coding(None, None, name),),
        text=name,
        proposed=True,
    )


def _alteration(spec: CaseAlteration, call: Call, source: str) -> Alteration:
    protein = None
    if spec.protein:
        text = spec.protein if spec.protein.startswith("p.") else f"p.{spec.protein}"
        protein = hgvs.parse_protein(text)
    coding = hgvs.parse_coding(spec.coding) if spec.coding else None
    kind = Kind(spec.kind)
    words = [spec.gene, spec.coding, spec.protein, spec.cnv, spec.msi, spec.expression]
    label = " ".join(filter(None, words)) or kind.value
    return Alteration(
        kind=kind,
        call=call,
        source=source,
        gene=spec.gene,
        protein=protein,
        coding=coding,
        codon=protein.start if protein else coding.codon if coding else None,
        exon=spec.exon,
        consequence=spec.consequence or (protein.consequence if protein else None),
        origin=Origin(spec.origin),
        vaf=spec.vaf,
        cnv=CnvCall(spec.cnv) if spec.cnv else None,
        copy_number=spec.copy_number,
        partner=spec.partner,
        msi=MsiStatus(spec.msi) if spec.msi else None,
        tmb=spec.tmb,
        expression=spec.expression,
        label=label,
    )
