"""Rechallenge: giving a drug class again after acquired resistance to it has cleared.

Judged only where the patient stopped a drug the rule covers, the resistance was acquired on it
(absent before, present after the start) and no drug of the class is given now. Then:

- offered: the resistance alteration and every other resistance finding against that class are
  not detected in the latest adequate sample (tissue, or plasma at an adequate tumour fraction)
  and the drug-free interval reaches the catalogue's parameter;
- conditional: the same, but a negative plasma result has an unknown tumour fraction: offered
  with its evidence and the tumour fraction / retest as the data requirement;
- withheld, with the reason said plainly: an alteration still detected, the interval not reached,
  no sample since the drug was stopped, the stop date unknown, or a negative plasma sample whose
  tumour fraction is known and too low to show the clone has gone (undetermined).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Countermeasure, Effect, Strategy
from fhir_resist.domain import Call, Message, Severity, Therapy
from fhir_resist.engine.longitudinal import ADEQUATE_TUMOUR_FRACTION
from fhir_resist.engine.model import DataRequirement, Finding, Offer, Recommendation, TimingCall
from fhir_resist.engine.regimens import Resolved
from fhir_resist.engine.requirements import (
    CTDNA_BEFORE_RECHALLENGE,
    CTDNA_TUMOUR_FRACTION,
    ENGINE_REQUIREMENT_DISPLAYS,
)
from fhir_resist.engine.timing import timing_for


@dataclass(frozen=True, slots=True)
class RechallengeResult:
    recommendations: tuple[Recommendation, ...]  # offered or conditional
    withheld: tuple[Recommendation, ...]
    messages: tuple[Message, ...]
    requirements: tuple[DataRequirement, ...]


@dataclass(frozen=True, slots=True)
class _Verdict:
    """One rechallenge judged: the recommendation, and what the judgement has to say or asks for."""

    recommendation: Recommendation
    message: Message | None = None
    requirement: DataRequirement | None = None


def rechallenges(
    findings: tuple[Finding, ...], past: Resolved, current: Resolved, catalogue: Catalogue, today: date
) -> RechallengeResult:
    """Every recommended rechallenge in question for this patient, offered, conditional or withheld."""
    recommendations: list[Recommendation] = []
    withheld: list[Recommendation] = []
    messages: list[Message] = []
    requirements: dict[str, DataRequirement] = {}
    taking = {drug for _, drugs in current for drug in drugs}
    for finding in findings:
        for cm in finding.rule.countermeasures:
            therapy = _acquired_on(finding, cm, past, taking, catalogue)
            if therapy is None:
                continue
            verdict = _verdict(finding, cm, therapy, findings, catalogue, today)
            rec = verdict.recommendation
            (withheld if rec.offer is Offer.WITHHELD else recommendations).append(rec)
            if verdict.message is not None:
                messages.append(verdict.message)
            if verdict.requirement is not None:
                requirements[verdict.requirement.code] = verdict.requirement
    return RechallengeResult(
        tuple(recommendations), tuple(withheld), tuple(messages), tuple(requirements.values())
    )


def _offered_drugs(cm: Countermeasure, catalogue: Catalogue) -> set[str]:
    return set(cm.drugs) | {d for c in cm.classes for d in catalogue.class_members(c)}


def _acquired_on(
    finding: Finding, cm: Countermeasure, past: Resolved, taking: set[str], catalogue: Catalogue
) -> Therapy | None:
    """The latest stopped course on which the finding was acquired, when ``cm`` is a recommended
    rechallenge and no drug it offers is given now."""
    if cm.strategy is not Strategy.RECHALLENGE or cm.outcome != "recommended":
        return None
    covered = catalogue.members(finding.rule.therapies)
    stopped = [(t, d) for t, d in past if set(d) & covered]
    if not stopped or taking & _offered_drugs(cm, catalogue):
        return None
    therapy = max(stopped, key=lambda item: item[0].end or item[0].start or date.min)[0]
    timing, _ = timing_for(finding, therapy)
    return therapy if timing is TimingCall.ACQUIRED else None


def _verdict(
    finding: Finding,
    cm: Countermeasure,
    therapy: Therapy,
    findings: tuple[Finding, ...],
    catalogue: Catalogue,
    today: date,
) -> _Verdict:
    """Withheld while not shown safe (no sample since, still detected, not shown gone, stop date
    unknown, interval not reached); otherwise offered, or conditional on the tumour fraction."""
    base = Recommendation(cm, (finding.rule.id,), (f"{finding.trigger.label} acquired on {therapy.label}",))
    latest = finding.history.latest
    if therapy.end is not None and (latest.when is None or latest.when <= therapy.end):
        need = DataRequirement(
            CTDNA_BEFORE_RECHALLENGE,
            ENGINE_REQUIREMENT_DISPLAYS[CTDNA_BEFORE_RECHALLENGE],
            f"no sample after {therapy.label} was stopped on {therapy.end.isoformat()}; "
            f"{finding.trigger.label} was last seen on it",
        )
        why = f"undetermined: no sample since {therapy.label} was stopped"
        return _Verdict(_withheld(base, why), requirement=need)
    offered = _offered_drugs(cm, catalogue)
    against = [
        f
        for f in findings
        if f.rule.effect is Effect.RESISTANCE and catalogue.members(f.rule.therapies) & offered
    ]
    not_gone = _not_shown_gone(against, catalogue)
    if not_gone is not None:
        return _Verdict(_withheld(base, not_gone))
    if therapy.end is None:
        message = Message(
            Severity.WARNING,
            f"{therapy.source}.effective[x]",
            "the date the drug was stopped is unknown; a rechallenge interval cannot be judged",
        )
        why = f"undetermined: the date {therapy.label} was stopped is unknown"
        return _Verdict(_withheld(base, why), message=message)
    parameter = catalogue.meta.parameters[cm.interval_parameter or ""]
    waited = (today - therapy.end).days
    if waited < parameter.value:
        why = (
            f"not yet: {waited} days since the last dose, the catalogue asks for at least {parameter.value:g}"
        )
        return _Verdict(_withheld(base, why))
    return _Verdict(_offered(base, finding, therapy, against, waited, catalogue))


def _withheld(rec: Recommendation, why: str) -> Recommendation:
    return replace(rec, offer=Offer.WITHHELD, why=(why,))


def _not_shown_gone(against: list[Finding], catalogue: Catalogue) -> str | None:
    """Why the resistance findings against the offered drugs are not shown gone: one still detected
    in the latest sample, or not detected in plasma of too low a tumour fraction; None if neither."""
    seen = sorted({f.trigger.label for f in against if f.history.latest.call is Call.PRESENT})
    if seen:
        return f"{', '.join(seen)} still detected in the latest sample"
    unproven = [f for f in against if not f.history.cleared]
    low = [f for f in unproven if f.history.latest.tumour_fraction is not None]
    if not low:
        return None
    sample = low[0].history.latest
    return (
        f"undetermined: {', '.join(sorted({f.trigger.label for f in low}))} not detected in "
        f"plasma of {sample.when.isoformat() if sample.when else 'unknown date'} at tumour "
        f"fraction {sample.tumour_fraction:g}, below the "
        f"{catalogue.parameter(ADEQUATE_TUMOUR_FRACTION):g} needed to show it is "
        "gone; retest (tissue, or plasma at adequate tumour fraction) before deciding"
    )


def _offered(
    base: Recommendation,
    finding: Finding,
    therapy: Therapy,
    against: list[Finding],
    waited: int,
    catalogue: Catalogue,
) -> Recommendation:
    """The rechallenge offered; conditional where a negative plasma result's tumour fraction is unknown."""
    latest = finding.history.latest
    when = latest.when.isoformat() if latest.when else "an undated sample"
    reason = (
        f"{finding.trigger.label} acquired on {therapy.label}, not detected in the "
        f"latest sample ({when}); {waited} days without it"
    )
    rec = replace(base, reasons=(reason,))
    unproven = [f for f in against if not f.history.cleared]
    if not unproven:
        return rec
    labels = ", ".join(sorted({f.trigger.label for f in unproven}))
    need = DataRequirement(
        CTDNA_TUMOUR_FRACTION,
        ENGINE_REQUIREMENT_DISPLAYS[CTDNA_TUMOUR_FRACTION],
        f"{labels} not detected in plasma of unknown tumour fraction: rechallenge is an "
        "option only if the sample had enough tumour DNA to show the clone has gone",
    )
    adequate = catalogue.parameter(ADEQUATE_TUMOUR_FRACTION)
    return replace(
        rec,
        offer=Offer.CONDITIONAL,
        why=(f"the latest plasma sample has a tumour fraction of at least {adequate:g}",),
        needs=(need,),
    )
