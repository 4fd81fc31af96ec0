"""Run every rule's own test cases through the real engine."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_resist import hgvs
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Case, CaseAlteration, Rule
from fhir_resist.domain import (
    Alteration,
    Call,
    CnvCall,
    Coding,
    Kind,
    MsiStatus,
    Origin,
    PatientContext,
    Therapy,
)
from fhir_resist.errors import HgvsError

CASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def run_cases(catalogue: Catalogue) -> list[str]:
    """Failures as ``rule-id: case name: what went wrong``; empty when all cases pass."""
    failures: list[str] = []
    for rule in catalogue.rules:
        for case in rule.cases:
            try:
                matched = case_matches(catalogue, rule, case)
            except HgvsError as exc:
                failures.append(f"{rule.id}: {case.name}: {exc}")
                continue
            if matched != (case.expect == "match"):
                failures.append(
                    f"{rule.id}: {case.name}: expected {case.expect}, got "
                    f"{'match' if matched else 'no-match'}"
                )
    return failures


def case_matches(catalogue: Catalogue, rule: Rule, case: Case) -> bool:
    """Whether the engine applies ``rule`` to the case's drug for the case's findings."""
    from fhir_resist.engine.assess import assess

    alterations = [
        _alteration(a, Call.PRESENT, f"Observation/case-{i}") for i, a in enumerate(case.alterations)
    ]
    alterations += [
        _alteration(a, Call.ABSENT, f"Observation/case-absent-{i}") for i, a in enumerate(case.absent)
    ]
    therapy = Therapy(
        source="MedicationRequest/case",
        resource_type="MedicationRequest",
        status="draft",
        codings=(Coding(None, None, catalogue.drugs[case.drug].name),),
        text=catalogue.drugs[case.drug].name,
        proposed=True,
    )
    context = PatientContext(
        patient="Patient/case",
        alterations=tuple(alterations),
        therapies=(therapy,),
        tumour_override=case.tumour,
    )
    assessment = assess(context, catalogue, CASE_TIME)
    return any(
        f.rule.id == rule.id and case.drug in catalogue.members(rule.therapies) for f in assessment.findings
    )


def _alteration(spec: CaseAlteration, call: Call, source: str) -> Alteration:
    protein = None
    if spec.protein:
        text = spec.protein if spec.protein.startswith("p.") else f"p.{spec.protein}"
        protein = hgvs.parse_protein(text)
    kind = Kind(spec.kind)
    label = (
        " ".join(filter(None, [spec.gene, spec.protein, spec.cnv, spec.msi, spec.expression])) or kind.value
    )
    return Alteration(
        kind=kind,
        call=call,
        source=source,
        gene=spec.gene,
        protein=protein,
        codon=protein.start if protein else None,
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
