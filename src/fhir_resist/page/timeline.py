"""The timeline of a page: therapy lines as bars, serial samples as points, each alteration's VAF
across the samples, and when a resistance allele appears or clears (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from fhir_resist.domain import Alteration, Call, Kind, PatientContext, Therapy
from fhir_resist.engine.longitudinal import ADEQUATE_TUMOUR_FRACTION, History, by_gene, history, sample_date
from fhir_resist.engine.match import same_locus
from fhir_resist.engine.model import Assessment
from fhir_resist.page.model import Bar, Event, Measure, SamplePoint, Series, Timeline

_SERIAL_KINDS = (Kind.VARIANT, Kind.CNV, Kind.FUSION, Kind.EXPRESSION)
# Lines drawn besides the resistance alleles (all of which are drawn): a large panel's hundreds of
# passengers would bury them. The others with the highest allele fraction are drawn; the rest are
# named under the figure.
OTHER_LINES = 6


def timeline(assessment: Assessment, context: PatientContext) -> Timeline:
    at = assessment.at.date()
    bars = tuple(bar for t in context.therapies if (bar := _bar(t, at)) is not None)
    undated = [t.source for t in context.therapies if t.start is None and not t.proposed]
    alterations = tuple(a for a in context.alterations if a.kind in _SERIAL_KINDS)
    undated += [a.source for a in alterations if sample_date(a, context)[0] is None]
    resistant = {o for i in assessment.issues for o in i.finding.observations}
    resistant |= {o for u in assessment.uncertain for o in u.observations}
    adequate = assessment.catalogue.parameter(ADEQUATE_TUMOUR_FRACTION)
    series = []
    for group in by_gene(alterations).values():
        for locus in _loci(group):
            found = history(locus[0], locus, context, adequate)
            is_resistance = any(a.source in resistant for a in locus)
            line = _series(_label(locus), found, resistance=is_resistance)
            if line is not None:
                series.append(line)
    drawn, not_drawn = _drawn(series)
    return Timeline(bars, _samples(alterations, context), drawn, tuple(dict.fromkeys(undated)), at, not_drawn)


def _drawn(series: list[Series]) -> tuple[tuple[Series, ...], tuple[str, ...]]:
    """Every resistance line and the ``OTHER_LINES`` others of highest allele fraction, resistance
    first, then by label; and the labels of the others, sorted."""
    others = sorted(
        (s for s in series if not s.resistance),
        key=lambda s: (-max((m.vaf or 0.0 for m in s.measures), default=0.0), s.label),
    )
    kept = [s for s in series if s.resistance] + others[:OTHER_LINES]
    kept.sort(key=lambda s: (not s.resistance, s.label))
    return tuple(kept), tuple(sorted(s.label for s in others[OTHER_LINES:]))


def _bar(therapy: Therapy, at: date) -> Bar | None:
    if therapy.start is None or therapy.proposed:
        return None
    end = therapy.end if therapy.end is not None and therapy.end <= at else None
    if end is None and therapy.status not in ("active", "on-hold", "intended", "unknown"):
        end = therapy.end or therapy.start  # stopped or completed with no end date: its start only
    return Bar(therapy.label, therapy.start, end, therapy.status)


def _loci(group: tuple[Alteration, ...]) -> list[tuple[Alteration, ...]]:
    """The group's alterations split into loci: each with every result ``same_locus`` matches to its first."""
    loci: list[list[Alteration]] = []
    for alt in group:
        home = next((locus for locus in loci if same_locus(locus[0], alt)), None)
        if home is None:
            loci.append([alt])
        else:
            home.append(alt)
    return [tuple(locus) for locus in loci]


def _label(locus: Iterable[Alteration]) -> str:
    labels = [a.label for a in locus if a.call is Call.PRESENT and a.label]
    return labels[-1] if labels else next(a.label for a in locus)


def _series(label: str, found: History, *, resistance: bool) -> Series | None:
    """The dated results of one locus; None when it was never seen (a pertinent negative only)."""
    dated = [s for s in found.samples if s.when is not None]
    if not any(s.call is Call.PRESENT for s in dated):
        return None
    measures: list[Measure] = []
    events: list[Event] = []
    seen = False
    for sample in dated:
        assert sample.when is not None
        present = sample.call is Call.PRESENT
        measures.append(Measure(sample.when, present, sample.vaf if present else 0.0))
        if present and not seen:
            events.append(Event(sample.when, "appears"))
            seen = True
        elif seen and sample.adequate_negative:
            events.append(Event(sample.when, "clears"))
            seen = False
    return Series(label, tuple(measures), resistance, tuple(events) if resistance else ())


def _samples(alterations: Iterable[Alteration], context: PatientContext) -> tuple[SamplePoint, ...]:
    """Each specimen (or, for results without one, each report or date) once, oldest first."""
    found: dict[str, SamplePoint] = {}
    for alt in alterations:
        when, _source = sample_date(alt, context)
        if when is None:
            continue
        key = alt.specimen or alt.report or when.isoformat()
        if key in found:
            continue
        specimen = context.specimen(alt.specimen)
        kind = specimen.type.value if specimen else "unknown"
        fraction = specimen.tumour_fraction if specimen else None
        found[key] = SamplePoint(when, alt.specimen or alt.report or "", kind, fraction)
    return tuple(sorted(found.values(), key=lambda s: (s.when, s.label)))
