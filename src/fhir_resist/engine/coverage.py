"""Whether negative results cover a region: what each report says it studied (its coverage),
and what each negative names itself. A negative covers only that; a report that states no scope
covers nothing beyond the variants its negatives name (unknown, not everything)."""

from __future__ import annotations

from dataclasses import dataclass

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import AlterationPattern
from fhir_resist.domain import Alteration, Call, GeneScope, GenomicReport, Kind
from fhir_resist.engine.match import exon_of
from fhir_resist.errors import HgvsError
from fhir_resist.hgvs import parse_protein


@dataclass(frozen=True, slots=True)
class Covered:
    """The regions of one gene shown free of variants, and the negatives with no stated scope."""

    whole_gene: bool
    exons: frozenset[int]
    codons: frozenset[int]
    unscoped: tuple[str, ...]  # negative results (references) whose region is not stated

    def exon(self, number: int) -> bool:
        return self.whole_gene or number in self.exons

    def codon(self, number: int, exon: int | None) -> bool:
        return self.whole_gene or number in self.codons or (exon is not None and exon in self.exons)


def covered(
    gene: str, alterations: tuple[Alteration, ...], reports: tuple[GenomicReport, ...], catalogue: Catalogue
) -> Covered:
    """What the input shows to be free of variants in ``gene`` (resolved symbol).

    Counted: each report's stated scope for the gene when the report has no present variant in it
    (a RegionStudied / GenomicStudyAnalysis region with nothing found is a negative), and the codon
    (p. or c. change) or exon each Absent variant names itself.
    """
    whole, exons, codons = False, set[int](), set[int]()
    present_in = {a.report for a in alterations if a.call is Call.PRESENT and a.gene == gene}
    for report in reports:
        if report.source in present_in:
            continue
        kinds = report.coverage.kinds
        for scope in report.coverage.genes:
            if not _scope_of(scope, gene, catalogue) or (kinds and Kind.VARIANT not in kinds):
                continue
            if scope.kinds and Kind.VARIANT not in scope.kinds:
                continue
            whole |= scope.whole_gene
            exons.update(scope.exons)
            codons.update(scope.codons)
    unscoped = []
    scoped_reports = {
        r.source for r in reports if any(_scope_of(s, gene, catalogue) for s in r.coverage.genes)
    }
    for alt in alterations:
        if alt.kind is not Kind.VARIANT or alt.call is not Call.ABSENT or alt.gene != gene:
            continue
        if alt.codon is not None:
            codons.add(alt.codon)
        elif alt.exon is not None:
            exons.add(alt.exon)  # an Absent result for a whole exon (e.g. "KIT exon 11: no variant")
        elif alt.report not in scoped_reports:
            unscoped.append(alt.source)
    return Covered(whole, frozenset(exons), frozenset(codons), tuple(unscoped))


def stated_for(gene: str, reports: tuple[GenomicReport, ...], catalogue: Catalogue) -> bool:
    """Whether a report says it studied ``gene`` (in any scope)."""
    return any(_scope_of(s, gene, catalogue) for r in reports for s in r.coverage.genes)


def _scope_of(scope: GeneScope, gene: str, catalogue: Catalogue) -> bool:
    return catalogue.gene_symbol(scope.gene, scope.hgnc_id) == gene


def missing_regions(
    gene: str,
    exons: tuple[int, ...],
    codons: tuple[int, ...],
    found: Covered,
    catalogue: Catalogue,
) -> str | None:
    """``KRAS exons 3, 4`` (what is not covered), or None when every region named is covered."""
    info = catalogue.genes.get(gene)
    lost_exons = [e for e in exons if not found.exon(e)]
    lost_codons = [c for c in codons if not found.codon(c, exon_of(info, c))]
    parts = []
    if lost_exons:
        parts.append(f"exon{'s' if len(lost_exons) > 1 else ''} {_numbers(lost_exons)}")
    if lost_codons:
        parts.append(f"codon{'s' if len(lost_codons) > 1 else ''} {_numbers(lost_codons)}")
    return f"{gene} {' and '.join(parts)}" if parts else None


def _numbers(values: list[int]) -> str:
    """2, 3, 4 -> '2-4'; 3, 4 -> '3 and 4'; 2, 4 -> '2 and 4'."""
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return ", ".join(map(str, values[:-1])) + (" and " if len(values) > 1 else "") + str(values[-1])


def covering_negative(
    pattern: AlterationPattern,
    alterations: tuple[Alteration, ...],
    reports: tuple[GenomicReport, ...],
    catalogue: Catalogue,
) -> str | None:
    """The result (a report or an Absent Observation) that shows a variant pattern's whole region
    free of variants, or None. The region is the pattern's codons, exons or protein changes'
    codons; a pattern naming only its gene needs the whole gene. An Absent result counts only for
    the codon it names, and a report only for the scope it states."""
    gene = pattern.gene
    if gene is None:
        return None
    found = covered(gene, alterations, reports, catalogue)
    codons = (*pattern.codons, *(c for p in pattern.proteins if (c := _protein_codon(p)) is not None))
    if not codons and not pattern.exons:
        shown = found.whole_gene
    else:
        shown = missing_regions(gene, pattern.exons, codons, found, catalogue) is None
    if not shown:
        return None
    negatives = [a.source for a in alterations if a.call is Call.ABSENT and a.gene == gene]
    scoped = [r.source for r in reports if any(_scope_of(s, gene, catalogue) for s in r.coverage.genes)]
    return next(iter(negatives + scoped), None)


def _protein_codon(protein: str) -> int | None:
    try:
        return parse_protein(f"p.{protein}").start
    except HgvsError:
        return None
