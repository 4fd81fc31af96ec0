"""Does an alteration fit a catalogue pattern? Pure predicates, no clinical facts of their own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from fhir_resist.domain import Alteration, CnvCall, Kind, Origin

if TYPE_CHECKING:  # named in annotations only
    from fhir_resist.catalogue.schema import AlterationPattern, Gene

_TRUNCATING = frozenset({"nonsense", "frameshift", "splice"})
_INFRAME = frozenset({"inframe-deletion", "inframe-insertion", "inframe-delins", "duplication"})
_CNV_FITS: dict[str, frozenset[CnvCall]] = {
    "amplification": frozenset({CnvCall.AMPLIFICATION}),
    "gain": frozenset({CnvCall.GAIN, CnvCall.AMPLIFICATION}),
    "loss": frozenset({CnvCall.LOSS, CnvCall.DELETION}),
    "deletion": frozenset({CnvCall.DELETION}),
}


def expand_consequences(wanted: tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for item in wanted:
        if item == "truncating":
            out |= _TRUNCATING
        elif item == "inframe":
            out |= _INFRAME
        elif item == "stop-lost":
            out |= {"stop-lost", "extension"}
        else:
            out.add(item)
    return frozenset(out)


def exon_of(gene: Gene | None, codon: int | None) -> int | None:
    if gene is None or codon is None:
        return None
    return next((e.number for e in gene.exons if e.codon_start <= codon <= e.codon_end), None)


def fits(pattern: AlterationPattern, alt: Alteration, symbol: str | None, gene: Gene | None) -> bool:
    """Whether the alteration (its gene already resolved to ``symbol``) fits the pattern."""
    if alt.kind != pattern.kind:  # a StrEnum compares as its value
        return False
    if (
        pattern.gene is not None
        and pattern.gene != symbol
        and not (alt.kind is Kind.FUSION and pattern.gene == alt.partner)
    ):
        return False
    if pattern.origin == "somatic" and alt.origin is Origin.GERMLINE:
        return False
    if pattern.origin == "germline" and alt.origin is not Origin.GERMLINE:
        return False
    if alt.kind is Kind.VARIANT:
        return _variant_fits(pattern, alt, gene)
    if alt.kind is Kind.CNV:
        if alt.cnv is None or pattern.cnv is None or alt.cnv not in _CNV_FITS[pattern.cnv]:
            return False
        if pattern.min_copy_number is not None:
            return alt.copy_number is None or alt.copy_number >= pattern.min_copy_number
        return True
    if alt.kind is Kind.FUSION:
        if pattern.partner is None:
            return True
        return pattern.partner in {alt.partner, symbol}
    if alt.kind is Kind.MSI:
        return alt.msi is not None and alt.msi == pattern.msi
    if alt.kind is Kind.TMB:
        return alt.tmb is not None and pattern.min_tmb is not None and alt.tmb >= pattern.min_tmb
    return alt.expression == pattern.expression


def _variant_fits(pattern: AlterationPattern, alt: Alteration, gene: Gene | None) -> bool:
    protein = alt.protein
    if pattern.proteins and (protein is None or protein.text not in pattern.proteins):
        return False
    if pattern.codons:
        span = (
            protein.codons
            if protein is not None
            else (range(alt.codon, alt.codon + 1) if alt.codon is not None else range(0))
        )
        if not any(c in pattern.codons for c in span):
            return False
    if pattern.exons:
        exon = alt.exon or exon_of(gene, alt.codon)
        if exon is None or exon not in pattern.exons:
            return False
    consequence = alt.consequence
    if pattern.consequences:
        if consequence is None or consequence not in expand_consequences(pattern.consequences):
            return False
    elif consequence == "synonymous":
        return False
    return not (pattern.min_vaf is not None and alt.vaf is not None and alt.vaf < pattern.min_vaf)


def locus_key(alt: Alteration) -> tuple[object, ...]:
    """A hashable identity of the variant or region an alteration speaks of."""
    if alt.kind is Kind.VARIANT:
        return (alt.kind, alt.gene, alt.protein.text if alt.protein else alt.codon)
    if alt.kind is Kind.CNV:
        return (alt.kind, alt.gene, alt.cnv in _CNV_FITS["gain"] if alt.cnv else None)
    if alt.kind is Kind.FUSION:
        return (alt.kind, alt.gene, alt.partner)
    return (alt.kind, alt.gene)


def same_locus(a: Alteration, b: Alteration) -> bool:
    """Whether two alterations speak of the same variant/region (for serial comparison)."""
    if a.kind is not b.kind or a.gene != b.gene:
        return False
    if a.kind is Kind.VARIANT:
        if a.protein is not None and b.protein is not None:
            return a.protein.text == b.protein.text
        return a.codon is not None and a.codon == b.codon
    if a.kind is Kind.CNV:
        return (
            a.cnv is not None
            and b.cnv is not None
            and ((a.cnv in _CNV_FITS["gain"]) == (b.cnv in _CNV_FITS["gain"]))
        )
    if a.kind is Kind.FUSION:
        return a.partner == b.partner or a.partner is None or b.partner is None
    return True


class Indexed:
    """Alterations in input order, indexed by gene (a fusion by its partner too): a pattern that
    names a gene can fit only those (``fits``), so a 500-variant panel is not tried whole for every
    co-condition of every rule."""

    __slots__ = ("_at", "alterations")

    def __init__(self, alterations: Iterable[Alteration]) -> None:
        self.alterations = tuple(alterations)
        at: dict[str | None, list[int]] = {}
        for i, alt in enumerate(self.alterations):
            at.setdefault(alt.gene, []).append(i)
            if alt.kind is Kind.FUSION and alt.partner and alt.partner != alt.gene:
                at.setdefault(alt.partner, []).append(i)
        self._at = at

    def candidates(self, patterns: Sequence[AlterationPattern]) -> list[Alteration]:
        """The alterations any of the patterns could fit, in input order."""
        if any(p.gene is None for p in patterns):
            return list(self.alterations)
        if len(patterns) == 1:
            return [self.alterations[i] for i in self._at.get(patterns[0].gene, ())]
        return [self.alterations[i] for i in sorted({i for p in patterns for i in self._at.get(p.gene, ())})]

    def first_fit(
        self, patterns: Sequence[AlterationPattern], genes: Mapping[str, Gene]
    ) -> Alteration | None:
        """The first alteration, in input order, that fits any of the patterns."""
        for alt in self.candidates(patterns):
            gene = genes.get(alt.gene or "")
            if any(fits(p, alt, alt.gene, gene) for p in patterns):
                return alt
        return None
