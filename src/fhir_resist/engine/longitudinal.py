"""Serial samples: each alteration's history across reports, and whether it has cleared."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from fhir_resist.domain import Alteration, Call, Kind, PatientContext, SpecimenType
from fhir_resist.engine.match import same_locus

ADEQUATE_TUMOUR_FRACTION = "ctdna-adequate-tumour-fraction"  # catalogue parameter


@dataclass(frozen=True, slots=True)
class Sample:
    when: date | None
    date_source: str
    call: Call
    vaf: float | None
    specimen_type: SpecimenType
    tumour_fraction: float | None
    source: str
    adequate_fraction: float  # catalogue parameter ctdna-adequate-tumour-fraction

    @property
    def adequate_negative(self) -> bool:
        """A negative that is evidence of absence: tissue, or plasma with enough tumour DNA."""
        if self.call is not Call.ABSENT:
            return False
        if self.specimen_type is SpecimenType.PLASMA:
            return self.tumour_fraction is not None and self.tumour_fraction >= self.adequate_fraction
        return True


@dataclass(frozen=True, slots=True)
class History:
    samples: tuple[Sample, ...]  # oldest first

    @property
    def first_seen(self) -> date | None:
        return next((s.when for s in self.samples if s.call is Call.PRESENT), None)

    @property
    def latest(self) -> Sample:
        return self.samples[-1]

    @property
    def cleared(self) -> bool:
        """Seen before, and the latest sample is an adequate negative."""
        return self.first_seen is not None and self.latest.adequate_negative

    @property
    def unconfirmed_negative(self) -> bool:
        """Seen before, and the latest sample is negative but cannot prove absence."""
        latest = self.latest
        return self.first_seen is not None and latest.call is Call.ABSENT and not latest.adequate_negative

    @property
    def vaf_trend(self) -> tuple[float | None, ...]:
        return tuple(s.vaf for s in self.samples)


def sample_date(alt: Alteration, context: PatientContext) -> tuple[date | None, str]:
    """When the sample carrying an alteration was taken, and where that date came from."""
    specimen = context.specimen(alt.specimen)
    if specimen is not None and specimen.collected is not None:
        return specimen.collected, "specimen collection date"
    if alt.observed is not None:
        return alt.observed, "observation effective date (no specimen collection date)"
    report = context.report(alt.report)
    if report is not None and (report.effective or report.issued):
        return report.effective or report.issued, "report date (no specimen collection date)"
    return None, "no date"


def sample_of(alt: Alteration, context: PatientContext, adequate_fraction: float) -> Sample:
    """One result as a dated sample, with its specimen's type and tumour fraction."""
    when, source = sample_date(alt, context)
    specimen = context.specimen(alt.specimen)
    return Sample(
        when=when,
        date_source=source,
        call=alt.call,
        vaf=alt.vaf,
        specimen_type=specimen.type if specimen else SpecimenType.UNKNOWN,
        tumour_fraction=specimen.tumour_fraction if specimen else None,
        source=alt.source,
        adequate_fraction=adequate_fraction,
    )


def by_gene(alterations: Iterable[Alteration]) -> dict[tuple[Kind, str | None], tuple[Alteration, ...]]:
    """The alterations by kind and gene, each group in the input's order: every alteration that
    ``same_locus`` can match with one of the group is in it. A report's variants, looked up here
    rather than scanned for each of them, cost linear time instead of quadratic."""
    groups: dict[tuple[Kind, str | None], list[Alteration]] = {}
    for alt in alterations:
        groups.setdefault((alt.kind, alt.gene), []).append(alt)
    return {key: tuple(group) for key, group in groups.items()}


def history(
    alt: Alteration, alterations: tuple[Alteration, ...], context: PatientContext, adequate_fraction: float
) -> History:
    """Every result for the same variant or region, ordered by sample date (undated last).

    ``alterations``: all of them, or only those of the alteration's kind and gene (``by_gene``)."""
    samples = []
    for other in alterations:
        if other is not alt and not same_locus(alt, other):
            continue
        samples.append(sample_of(other, context, adequate_fraction))
    samples.sort(key=lambda s: (s.when is None, s.when or date.min, s.call is Call.PRESENT, s.source))
    return History(tuple(samples))
