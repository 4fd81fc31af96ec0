"""Structured conditions of countermeasures, judged against the patient's own facts.

Each condition (catalogue ``requires``) is met, not met, or unknown. A countermeasure is offered
when all are met, withheld when one is not met (with the reason), and offered as conditional
when none fails but some cannot be decided, with the fact that would decide it as a data
requirement. Facts are structured only: codes, alterations tested present or absent, recorded
regimens, the tumour code and the finding's timing; never words in free text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import (
    AlterationPattern,
    Biomarker,
    Criterion,
    DailyDoseBelow,
    FindingTiming,
    PriorLines,
    PriorTherapy,
    Setting,
    Timing,
    TumourCondition,
)
from fhir_resist.domain import Alteration, Call, GenomicReport, Kind
from fhir_resist.engine.coverage import covering_negative, stated_for
from fhir_resist.engine.doses import THERAPY_DOSE, THERAPY_DOSE_DISPLAY, DoseCall, dose_call, dose_words
from fhir_resist.engine.match import fits
from fhir_resist.engine.model import DataRequirement, TimingCall
from fhir_resist.engine.regimens import Regimen, Resolved

CONDITION_BIOMARKER = "countermeasure-biomarker"
CONDITION_LINES = "countermeasure-prior-lines"
CONDITION_SETTING = "countermeasure-setting"
CONDITION_TIMING = "countermeasure-finding-timing"
CONDITION_TUMOUR = "countermeasure-tumour-type"
# Data requirements raised when a countermeasure's condition cannot be decided: code -> definition.
CONDITION_REQUIREMENTS = {
    CONDITION_BIOMARKER: "The biomarker result (tested present or absent) that decides whether a "
    "countermeasure is an option for this patient, e.g. MSI / mismatch-repair status.",
    CONDITION_LINES: "The patient's earlier lines of systemic therapy, which decide whether a "
    "countermeasure approved for a given line is an option.",
    CONDITION_SETTING: "The documented disease setting (e.g. radioiodine-refractory disease, "
    "histologically confirmed transformation) that a countermeasure needs.",
    CONDITION_TIMING: "An earlier sample showing whether the finding was present before the therapy "
    "or acquired on it.",
    CONDITION_TUMOUR: "The cancer type, which decides whether a countermeasure applies.",
}
# Their displays in the data-requirement CodeSystem. A DataRequirement's own text names the
# biomarker or setting asked for (its reason names it too).
CONDITION_REQUIREMENT_DISPLAYS = {
    CONDITION_BIOMARKER: "Biomarker status",
    CONDITION_LINES: "Earlier lines of systemic therapy",
    CONDITION_SETTING: "Disease setting",
    CONDITION_TIMING: "An earlier sample for the finding",
    CONDITION_TUMOUR: "Cancer type",
}

# The engine's timing call that meets a catalogue condition on the finding's timing.
_TIMING_CALL = {Timing.PRIMARY: TimingCall.PRIMARY, Timing.ACQUIRED: TimingCall.ACQUIRED}

_SETTING_WORDS = {
    "adjuvant": "adjuvant setting",
    "metastatic": "metastatic disease",
    "radioiodine-refractory": "radioiodine-refractory disease",
    "histologic-transformation-confirmed": "histologically confirmed transformation (a new biopsy)",
}


class Outcome(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    text: str  # what was found, or what is missing
    need: DataRequirement | None = None  # for UNKNOWN: the fact that would decide it


@dataclass(frozen=True, slots=True)
class Facts:
    """The structured facts conditions are judged against."""

    catalogue: Catalogue
    tumour: str | None
    present: tuple[Alteration, ...]
    absent: tuple[Alteration, ...]
    regimens: tuple[Regimen, ...]
    reports: tuple[GenomicReport, ...] = ()  # what each report studied: how wide a negative is
    current: Resolved = ()  # therapies given now or ordered, with their catalogue drugs (their doses)


def judge(criterion: Criterion, facts: Facts, timing: TimingCall | None) -> Verdict:
    """One condition against the facts; ``timing``: the answered finding's timing, if an issue has one."""
    if isinstance(criterion, PriorTherapy):
        return _prior_therapy(criterion, facts)
    if isinstance(criterion, PriorLines):
        return _prior_lines(criterion, facts)
    if isinstance(criterion, Biomarker):
        return _biomarker(criterion, facts)
    if isinstance(criterion, TumourCondition):
        return _tumour(criterion, facts)
    if isinstance(criterion, FindingTiming):
        return _timing(criterion, timing)
    if isinstance(criterion, DailyDoseBelow):
        return _daily_dose(criterion, facts)
    return _setting(criterion)


def _prior_therapy(criterion: PriorTherapy, facts: Facts) -> Verdict:
    catalogue = facts.catalogue
    wanted = set(criterion.drugs) | {d for c in criterion.classes for d in catalogue.class_members(c)}
    names = [catalogue.classes[c].name for c in criterion.classes] + [
        catalogue.drugs[d].name for d in criterion.drugs
    ]
    what = " or ".join(names)
    given = [r for r in facts.regimens if wanted & set(r.drugs)]
    if given:
        text = f"{what} received ({'; '.join(r.label for r in given)})"
        return Verdict(Outcome.MET if criterion.received else Outcome.NOT_MET, text)
    text = f"no {what} among the recorded therapies"
    if criterion.received:
        # Earlier therapy is often missing from the input: not finding it does not show it was not given.
        need = DataRequirement(
            CONDITION_LINES,
            CONDITION_REQUIREMENT_DISPLAYS[CONDITION_LINES],
            f"the option is for patients who received {what}; none is recorded",
        )
        return Verdict(Outcome.UNKNOWN, f"{what} received before (not recorded)", need)
    return Verdict(Outcome.MET, text)


def _prior_lines(criterion: PriorLines, facts: Facts) -> Verdict:
    """Earlier regimens as recorded. A count above ``max`` or reaching ``min`` is decisive; a low
    count is not (earlier lines are often not in the input), so it leaves the condition unknown."""
    earlier = [r for r in facts.regimens if not r.current]
    count = len(earlier)
    wording = _lines_wording(criterion)
    if criterion.max is not None and count > criterion.max:
        return Verdict(Outcome.NOT_MET, f"{count} earlier regimens recorded; the option is for {wording}")
    if criterion.min is not None and count >= criterion.min:
        return Verdict(Outcome.MET, f"{count} earlier regimens recorded")
    need = DataRequirement(
        CONDITION_LINES,
        CONDITION_REQUIREMENT_DISPLAYS[CONDITION_LINES],
        f"{count} earlier regimens recorded; options that depend on the line of therapy are conditional",
    )
    return Verdict(Outcome.UNKNOWN, f"{wording} (earlier lines not fully recorded)", need)


def _lines_wording(criterion: PriorLines) -> str:
    if criterion.max == 0:
        return "the first line"
    if criterion.min is not None and criterion.max is not None:
        return f"patients after {criterion.min} to {criterion.max} earlier regimens"
    if criterion.min is not None:
        return f"patients after at least {criterion.min} earlier regimen{'s' if criterion.min > 1 else ''}"
    return f"patients after at most {criterion.max} earlier regimens"


def _biomarker(criterion: Biomarker, facts: Facts) -> Verdict:
    pattern = criterion.alteration
    label = pattern_label(pattern)
    genes = facts.catalogue.genes
    found = next((a for a in facts.present if fits(pattern, a, a.gene, genes.get(a.gene or ""))), None)
    if found is not None:
        text = f"{label} present ({found.source})"
        return Verdict(Outcome.MET if criterion.state == "present" else Outcome.NOT_MET, text)
    negative = _negative(pattern, facts)
    if negative is not None:
        text = f"{label} tested and absent ({negative})"
        return Verdict(Outcome.MET if criterion.state == "absent" else Outcome.NOT_MET, text)
    wanted = "present" if criterion.state == "present" else "absent"
    if any(a.gene == pattern.gene for a in facts.absent) or _stated(pattern, facts):
        reason = f"{label}: the negative results in the input do not cover it all"
        need = DataRequirement(CONDITION_BIOMARKER, f"{label} status", reason)
        return Verdict(Outcome.UNKNOWN, f"{label} {wanted} (negatives do not cover it)", need)
    need = DataRequirement(CONDITION_BIOMARKER, f"{label} status", f"{label} not reported in the input")
    return Verdict(Outcome.UNKNOWN, f"{label} {wanted} (not reported)", need)


def _stated(pattern: AlterationPattern, facts: Facts) -> bool:
    return pattern.gene is not None and stated_for(pattern.gene, facts.reports, facts.catalogue)


def _negative(pattern: AlterationPattern, facts: Facts) -> str | None:
    """The result showing the pattern absent. A variant pattern needs its whole region covered
    (engine/coverage.py): an Absent result for one codon is no negative for the others."""
    if pattern.kind == "variant":
        return covering_negative(pattern, facts.present + facts.absent, facts.reports, facts.catalogue)
    found = next((a for a in facts.absent if _tested_absent(pattern, a, facts)), None)
    if found is None and pattern.kind == "msi":
        # An MSI result of another status is a negative for this one (MSS rules out MSI-high).
        found = next((a for a in facts.present if a.kind is Kind.MSI and a.msi != pattern.msi), None)
    return found.source if found is not None else None


def _tested_absent(pattern: AlterationPattern, alt: Alteration, facts: Facts) -> bool:
    as_present = replace(alt, call=Call.PRESENT)
    return fits(pattern, as_present, alt.gene, facts.catalogue.genes.get(alt.gene or ""))


def pattern_label(pattern: AlterationPattern) -> str:
    """``MSI-high``, ``ERBB2 amplification``, ``KRAS G12C``, ``TP53 variant``."""
    if pattern.kind == "msi":
        return {"msi-high": "MSI-high", "msi-low": "MSI-low", "stable": "MSI stable"}[pattern.msi or ""]
    if pattern.kind == "tmb":
        return f"TMB >= {pattern.min_tmb:g}"
    detail = (
        "/".join(pattern.proteins)
        or pattern.cnv
        or pattern.expression
        or (
            f"fusion{' with ' + pattern.partner if pattern.partner else ''}"
            if pattern.kind == "fusion"
            else ""
        )
        or _region(pattern)
        or "variant"
    )
    return f"{pattern.gene} {detail}"


def _region(pattern: AlterationPattern) -> str:
    """``codons 12, 13, 61`` or ``exons 2-4``: the region a variant pattern names."""
    if pattern.codons:
        return f"codon{'s' if len(pattern.codons) > 1 else ''} {', '.join(map(str, pattern.codons))}"
    if pattern.exons:
        return f"exon{'s' if len(pattern.exons) > 1 else ''} {', '.join(map(str, pattern.exons))}"
    return ""


def _tumour(criterion: TumourCondition, facts: Facts) -> Verdict:
    catalogue = facts.catalogue
    names = ", ".join(catalogue.tumour_name(c) for c in criterion.include)
    if facts.tumour is None:
        need = DataRequirement(
            CONDITION_TUMOUR, CONDITION_REQUIREMENT_DISPLAYS[CONDITION_TUMOUR], f"the option is for {names}"
        )
        return Verdict(Outcome.UNKNOWN, f"{names} (cancer type unknown)", need)
    name = catalogue.tumour_name(facts.tumour)
    if catalogue.tumour_in_scope(facts.tumour, criterion.include):
        return Verdict(Outcome.MET, f"{name}")
    return Verdict(Outcome.NOT_MET, f"{name}, not {names}")


def _timing(criterion: FindingTiming, timing: TimingCall | None) -> Verdict:
    wanted = criterion.timing.value
    if timing is None or timing is TimingCall.UNDETERMINED:
        need = DataRequirement(
            CONDITION_TIMING,
            CONDITION_REQUIREMENT_DISPLAYS[CONDITION_TIMING],
            f"the option is for resistance {wanted} on the therapy; whether it was cannot be told",
        )
        return Verdict(Outcome.UNKNOWN, f"finding {wanted} on the therapy (not determined)", need)
    if timing is _TIMING_CALL[criterion.timing]:
        return Verdict(Outcome.MET, f"finding {wanted}")
    return Verdict(Outcome.NOT_MET, f"the finding is {timing.value}, the option is for {wanted} resistance")


def _daily_dose(criterion: DailyDoseBelow, facts: Facts) -> Verdict:
    """The current therapies with the drug: all below the limit is met; one at or above it, or none
    given now, is not met; otherwise (a dose not structured) unknown, asking for the dose."""
    name = facts.catalogue.drugs[criterion.drug].name
    given = [t for t, drugs in facts.current if criterion.drug in drugs]
    if not given:
        return Verdict(Outcome.NOT_MET, f"no current {name} therapy")
    calls = {t.source: dose_call(t, criterion.below_mg) for t in given}
    words = "; ".join(dose_words(t, criterion.below_mg) for t in given)
    if DoseCall.NOT_BELOW in calls.values():
        return Verdict(Outcome.NOT_MET, words)
    if DoseCall.UNKNOWN in calls.values():
        unknown = "; ".join(
            f"{t.source} ({dose_words(t, criterion.below_mg)})"
            for t in given
            if calls[t.source] is DoseCall.UNKNOWN
        )
        reason = f"the option is for {name} below {criterion.below_mg:g} mg/day: {unknown}"
        need = DataRequirement(THERAPY_DOSE, THERAPY_DOSE_DISPLAY, reason)
        return Verdict(Outcome.UNKNOWN, words, need)
    return Verdict(Outcome.MET, words)


def _setting(criterion: Setting) -> Verdict:
    """No structured source for settings is read yet: always undecided, never taken from text."""
    words = _SETTING_WORDS[criterion.setting]
    need = DataRequirement(CONDITION_SETTING, words[0].upper() + words[1:], f"the option needs {words}")
    return Verdict(Outcome.UNKNOWN, f"{words} (not documented)", need)
