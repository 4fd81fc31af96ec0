"""What the patient page says: frozen values built from an Assessment and the patient's context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Link:
    """A reference as the catalogue names it, and where to read it (None: no public address)."""

    label: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    """A countermeasure: ``offered``, ``conditional`` (``conditions`` still to hold) or ``withheld``
    (``conditions``: what rules it out)."""

    text: str
    offer: str
    conditions: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """One therapy against one finding (a DetectedIssue), or an uncertain new variant."""

    severity: str
    drugs: str
    therapy: str  # the therapy's reference as the input names it
    finding: str
    observations: tuple[str, ...]
    detail: str
    mechanism: str
    timing: str
    timing_reason: str
    evidence_level: str
    evidence_summary: str
    references: tuple[Link, ...]
    caveats: tuple[str, ...]
    rule: str
    options: tuple[Option, ...] = ()
    uncertain: bool = False


@dataclass(frozen=True, slots=True)
class Need:
    """Data that would change the answer."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Bar:
    """A therapy over time; ``end`` None: ongoing at the evaluation (drawn to it)."""

    label: str
    start: date
    end: date | None
    status: str


@dataclass(frozen=True, slots=True)
class SamplePoint:
    """One serial sample: a specimen (or, without one, a report date) with its type and tumour fraction."""

    when: date
    label: str
    specimen_type: str
    tumour_fraction: float | None


@dataclass(frozen=True, slots=True)
class Measure:
    """One result of an alteration in one sample: its VAF when present, ``present`` False when absent."""

    when: date
    present: bool
    vaf: float | None


@dataclass(frozen=True, slots=True)
class Event:
    """A resistance allele appearing or clearing (an adequate negative after it was seen)."""

    when: date
    kind: str  # "appears" | "clears"


@dataclass(frozen=True, slots=True)
class Series:
    """One alteration across the serial samples, oldest first."""

    label: str
    measures: tuple[Measure, ...]
    resistance: bool  # an alert's or an uncertain issue's variant
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Timeline:
    bars: tuple[Bar, ...]
    samples: tuple[SamplePoint, ...]
    series: tuple[Series, ...]
    undated: tuple[str, ...]  # therapies and results not drawn for want of a date, as the input names them
    at: date
    not_drawn: tuple[str, ...] = ()  # alterations beyond the lines a figure can show, listed instead

    @property
    def empty(self) -> bool:
        return not (self.bars or self.samples)


@dataclass(frozen=True, slots=True)
class Page:
    patient: str | None
    tumour: str | None
    status: str
    preliminary: bool
    catalogue_version: str
    evaluated: datetime
    version: str
    alerts: tuple[Alert, ...]
    uncertain: tuple[Alert, ...]
    options: tuple[Option, ...]  # countermeasures that no alert lists
    withheld: tuple[Option, ...]
    needs: tuple[Need, ...]
    messages: tuple[str, ...]
    timeline: Timeline
