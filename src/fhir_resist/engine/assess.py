"""The assessment: a pure function from a patient's context and the catalogue to the answer.

No I/O, no clock (``at`` is a parameter), and no exception on clinical content: anything
that cannot be used becomes a message or a data requirement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import Alteration, Call, Message, PatientContext
from fhir_resist.engine import lab
from fhir_resist.engine.conditions import Facts
from fhir_resist.engine.context import (
    CANCER_TYPE,
    cancer_type,
    catalogue_therapies,
    current_and_past,
    gene_conflicts,
    resolve_gene,
)
from fhir_resist.engine.countermeasures import patient_countermeasures, recommendations
from fhir_resist.engine.findings import findings_for, note_unmatched_variants
from fhir_resist.engine.implications import implications_of
from fhir_resist.engine.issues import issues_and_exceptions
from fhir_resist.engine.model import Assessment, DataRequirement, Finding, Status, TimingCall
from fhir_resist.engine.rechallenge import rechallenges
from fhir_resist.engine.regimens import Resolved, form_regimens
from fhir_resist.engine.requirements import data_requirements
from fhir_resist.engine.uncatalogued import uncatalogued_variants


def assess(context: PatientContext, catalogue: Catalogue, at: datetime) -> Assessment:
    """Everything the catalogue says about this patient's findings and therapies at ``at``."""
    patient = _read(context, catalogue, at.date())
    findings, facts = patient.findings, patient.facts
    candidates = recommendations(findings, catalogue)
    issues, exceptions = issues_and_exceptions(
        context, findings, patient.current, patient.past, candidates, facts
    )
    rechallenge = rechallenges(findings, patient.past, patient.current, catalogue, at.date())
    messages = [*patient.messages, *rechallenge.messages]
    messages += lab.compare(context.lab_implications, findings, catalogue)
    uncertain, notes = uncatalogued_variants(
        context, patient.alterations, patient.tumour, patient.current, catalogue
    )
    messages += notes
    acquired = frozenset(d for issue in issues if issue.timing is TimingCall.ACQUIRED for d in issue.drugs)
    proposed, withheld = patient_countermeasures(candidates, issues, findings, facts)
    proposed += rechallenge.recommendations
    withheld += rechallenge.withheld
    needs = _unique_needs(
        (
            *data_requirements(
                catalogue,
                patient.tumour,
                patient.alterations,
                patient.current,
                findings,
                acquired,
                context.reports,
            ),
            *rechallenge.requirements,
            *(need for rec in proposed for need in rec.needs),
        )
    )
    return Assessment(
        patient=context.patient,
        at=at,
        catalogue_version=catalogue.version,
        status=Status.DATA_REQUIRED if patient.tumour is None else Status.SUCCESS,
        tumour=patient.tumour,
        tumour_name=catalogue.tumour_name(patient.tumour) if patient.tumour else None,
        findings=findings,
        issues=issues,
        implications=implications_of(findings, catalogue),
        countermeasures=tuple(proposed),
        data_requirements=needs,
        messages=tuple(messages),
        inputs=context.inputs,
        reports=tuple(r.source for r in context.reports),
        preliminary=_preliminary(context, findings),
        catalogue=catalogue,
        therapies=tuple(t.source for t in context.therapies),
        report_results=frozenset(r for report in context.reports for r in report.results),
        withheld=tuple(withheld),
        exceptions=exceptions,
        regimens=facts.regimens,
        uncertain=uncertain,
    )


@dataclass(frozen=True, slots=True)
class _Patient:
    """The patient's context in the catalogue's terms, and what could not be used."""

    alterations: tuple[Alteration, ...]
    tumour: str | None
    findings: tuple[Finding, ...]
    current: Resolved  # therapies given now or ordered, with their catalogue drugs
    past: Resolved
    facts: Facts
    messages: tuple[Message, ...]


def _read(context: PatientContext, catalogue: Catalogue, today: date) -> _Patient:
    """The alterations, cancer type, findings, therapies and regimens, with the input's messages."""
    messages: list[Message] = list(context.messages)
    alterations = tuple(resolve_gene(a, catalogue) for a in context.alterations)
    messages += gene_conflicts(context.alterations, catalogue)
    tumour = cancer_type(context, catalogue, messages)
    present = tuple(a for a in alterations if a.call is Call.PRESENT)
    findings = findings_for(context, alterations, tumour, catalogue)
    note_unmatched_variants(list(present), findings, messages)
    current, past = current_and_past(catalogue_therapies(context, catalogue, messages), catalogue, today)
    absent = tuple(a for a in alterations if a.call is Call.ABSENT)
    regimens = form_regimens(current, past, today)
    facts = Facts(catalogue, tumour, present, absent, regimens, context.reports, current)
    return _Patient(alterations, tumour, findings, current, past, facts, tuple(messages))


def _preliminary(context: PatientContext, findings: tuple[Finding, ...]) -> bool:
    """Whether a finding rests on a preliminary result, or a report is itself preliminary."""
    return any(a.preliminary for f in findings for a in f.alterations) or any(
        r.status == "preliminary" for r in context.reports
    )


def _unique_needs(needs: Iterable[DataRequirement]) -> tuple[DataRequirement, ...]:
    """One requirement per (code, text); the reasons of repeats are joined."""
    merged: dict[tuple[str, str], DataRequirement] = {}
    for need in needs:
        key = (need.code, need.text)
        old = merged.get(key)
        if old is None:
            merged[key] = need
        elif need.reason not in old.reason:
            merged[key] = replace(old, reason=f"{old.reason}; {need.reason}")
    return tuple(merged.values())


__all__ = ["CANCER_TYPE", "DataRequirement", "assess"]
