"""Doses: whether a therapy's structured daily dose is below a rule's or a countermeasure's limit.

A rule whose effect holds only below a daily dose (``therapies.daily_dose``: KIT exon 9 GIST on
imatinib below 800 mg/day) alerts a therapy below it, leaves one at or above it alone, and for a
therapy whose dose is not structured (or spans the limit) raises the data requirement
``therapy-dose`` instead of guessing. Pure: the dose comes from ``Therapy.daily_dose``, which the
reader fills from structured dosage only.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Rule
from fhir_resist.domain import Therapy
from fhir_resist.engine.model import DataRequirement, Finding

THERAPY_DOSE = "therapy-dose"
THERAPY_DOSE_DEFINITION = (
    "The daily dose of a therapy as structured data (dosageInstruction.doseAndRate in UCUM mg with "
    "timing.repeat frequency and period): a finding whose effect depends on the dose cannot be "
    "decided without it. The dosage text is not read."
)
THERAPY_DOSE_DISPLAY = "The structured daily dose (mg/day) of the therapy named"


class DoseCall(StrEnum):
    BELOW = "below"
    NOT_BELOW = "not-below"  # at or above the limit
    UNKNOWN = "unknown"  # not structured, or a range across the limit


def dose_call(therapy: Therapy, below_mg: float) -> DoseCall:
    dose = therapy.daily_dose
    if dose is None:
        return DoseCall.UNKNOWN
    if dose.high_mg < below_mg:
        return DoseCall.BELOW
    if dose.low_mg >= below_mg:
        return DoseCall.NOT_BELOW
    return DoseCall.UNKNOWN


def dose_words(therapy: Therapy, below_mg: float) -> str:
    """What the input says of the therapy's dose against the limit, for a clinician."""
    dose = therapy.daily_dose
    if dose is None:
        return f"{therapy.label}: no structured daily dose in mg"
    call = dose_call(therapy, below_mg)
    if call is DoseCall.BELOW:
        return f"{therapy.label} at {dose.label}, below {below_mg:g} mg/day"
    if call is DoseCall.NOT_BELOW:
        return f"{therapy.label} at {dose.label}, not below {below_mg:g} mg/day"
    return f"{therapy.label} at {dose.label}, which spans {below_mg:g} mg/day"


def in_dose_scope(rule: Rule, therapy: Therapy) -> bool:
    """Whether the rule's effect applies to the therapy's dose (always, for a rule without a dose scope)."""
    scope = rule.therapies.daily_dose
    return scope is None or dose_call(therapy, scope.below_mg) is DoseCall.BELOW


def dose_needs(
    findings: tuple[Finding, ...],
    therapies: Iterable[tuple[Therapy, tuple[str, ...]]],
    catalogue: Catalogue,
) -> list[DataRequirement]:
    """The current therapies whose unknown dose leaves a dose-scoped finding undetermined."""
    reasons: list[str] = []
    for finding in findings:
        scope = finding.rule.therapies.daily_dose
        if scope is None:
            continue
        covered = catalogue.members(finding.rule.therapies)
        for therapy, drugs in therapies:
            if covered & set(drugs) and dose_call(therapy, scope.below_mg) is DoseCall.UNKNOWN:
                reasons.append(
                    f"{therapy.source} ({dose_words(therapy, scope.below_mg)}): whether "
                    f"{finding.trigger.label} affects it ({finding.rule.id}, below {scope.below_mg:g} "
                    "mg/day) is undetermined without the dose"
                )
    if not reasons:
        return []
    return [DataRequirement(THERAPY_DOSE, THERAPY_DOSE_DISPLAY, "; ".join(dict.fromkeys(reasons)))]
