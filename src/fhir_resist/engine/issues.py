"""Issues: each therapy the patient takes or is ordered that a finding says will fail, and the
regimen exceptions (a therapy given with the partner that overcomes the finding)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

from fhir_resist.catalogue.schema import Strategy
from fhir_resist.domain import PatientContext, Therapy
from fhir_resist.engine import explain
from fhir_resist.engine.conditions import Facts
from fhir_resist.engine.countermeasures import decide
from fhir_resist.engine.doses import dose_words, in_dose_scope
from fhir_resist.engine.findings import FAILS, spared_by
from fhir_resist.engine.model import (
    Finding,
    Issue,
    Offer,
    Recommendation,
    RegimenException,
    TimingCall,
)
from fhir_resist.engine.regimens import Resolved, regimen_of
from fhir_resist.engine.severity import issue_severity
from fhir_resist.engine.timing import timing_for


def issues_and_exceptions(
    context: PatientContext,
    findings: tuple[Finding, ...],
    therapies: Resolved,
    past: Resolved,
    candidates: tuple[Recommendation, ...],
    facts: Facts,
) -> tuple[tuple[Issue, ...], tuple[RegimenException, ...]]:
    """Per current therapy and finding that predicts failure of its drugs: an issue, or an exception
    where the therapy's regimen holds the partner that spares it."""
    catalogue = facts.catalogue
    issues: list[Issue] = []
    exceptions: list[RegimenException] = []
    for therapy, drugs in therapies:
        regimen = regimen_of(therapy, facts.regimens)
        together = regimen.drugs if regimen is not None else drugs
        for finding in findings:
            if finding.rule.effect not in FAILS:
                continue
            covered = catalogue.members(finding.rule.therapies)
            affected = tuple(d for d in drugs if d in covered)
            if not affected or not in_dose_scope(finding.rule, therapy):
                continue  # at a dose the rule is not about; an unknown dose is a data requirement
            spared = spared_by(finding, together, catalogue)
            if spared is not None:
                partners, reason = spared
                exceptions.append(RegimenException(therapy, affected, finding, partners, reason))
                continue
            earlier = _earlier_course(finding, therapy, past, covered)
            timing, reason = _timing(finding, therapy, earlier)
            issues.append(
                Issue(
                    identifier=_identifier(
                        context.patient, finding.rule.id, therapy.source, finding.observations
                    ),
                    therapy=therapy,
                    drugs=affected,
                    finding=finding,
                    severity=issue_severity(finding, context, catalogue, retreatment=earlier is not None),
                    timing=timing,
                    timing_reason=reason,
                    countermeasures=_proposals(finding, findings, candidates, facts, timing, together),
                    detail=_detail(finding, therapy, affected, timing, facts, earlier),
                )
            )
    return tuple(issues), tuple(exceptions)


def _detail(
    finding: Finding,
    therapy: Therapy,
    affected: tuple[str, ...],
    timing: TimingCall,
    facts: Facts,
    earlier: Therapy | None,
) -> str:
    """The issue's sentence, with the dose for a rule about some doses only."""
    regimen = regimen_of(therapy, facts.regimens)
    sentence = explain.issue_sentence(finding, therapy, affected, timing, facts.catalogue, earlier, regimen)
    scope = finding.rule.therapies.daily_dose
    if scope is not None:
        sentence += f" Daily dose: {dose_words(therapy, scope.below_mg)}."
    return sentence


def _timing(finding: Finding, therapy: Therapy, earlier: Therapy | None) -> tuple[TimingCall, str]:
    """Primary, acquired or undetermined, and why; relative to the earlier course if there is one."""
    if earlier is None:
        return timing_for(finding, therapy)
    timing, reason = timing_for(finding, earlier)
    return timing, f"on an earlier course of {earlier.label}: {reason}"


def _earlier_course(
    finding: Finding,
    therapy: Therapy,
    past: Resolved,
    covered: frozenset[str],
) -> Therapy | None:
    """The earlier, stopped course of a drug this rule covers on which the finding was acquired.

    A resistance alteration that emerged on a first course and is found before a second one is
    acquired resistance (from the first), not primary resistance to the second.
    """
    starts = therapy.start if not therapy.proposed else None
    candidates = [
        t
        for t, drugs in past
        if set(drugs) & covered
        and t.end is not None
        and (starts is None or t.end <= starts)
        and timing_for(finding, t)[0] is TimingCall.ACQUIRED
    ]
    return max(candidates, key=lambda t: t.end or date.min) if candidates else None


def _proposals(
    finding: Finding,
    findings: tuple[Finding, ...],
    candidates: tuple[Recommendation, ...],
    facts: Facts,
    timing: TimingCall,
    together: tuple[str, ...],
) -> tuple[Recommendation, ...]:
    """The finding's countermeasures that are offered or conditional for this therapy's regimen."""
    decided = (
        decide(r, findings, facts, timing, exclude=finding, current=together)
        for r in candidates
        if finding.rule.id in r.rule_ids
        and r.countermeasure.strategy is not Strategy.RECHALLENGE  # the drug is being given now
    )
    return tuple(r for r in decided if r.offer is not Offer.WITHHELD)


def _identifier(patient: str | None, rule_id: str, medication: str, observations: Iterable[str]) -> str:
    text = "|".join([patient or "", rule_id, medication, *sorted(observations)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]
