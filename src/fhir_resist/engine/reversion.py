"""Reversions: does a second variant restore the reading frame of a truncating variant of its gene?

Decided from the reported changes alone (HGVS ``c.``, else ``p.``), never from the sequence:

- a deletion that removes the whole truncating variant restores the frame when its own length is
  a multiple of 3;
- after a frameshift, a second indel restores the frame when the two lengths add up to a
  multiple of 3 and it lies within ``window`` nucleotides of the first; farther away the frame is
  restored by length, but whether the stretch read in the wrong frame meets a stop codon cannot
  be told from the report (undetermined);
- after a nonsense change, an in-frame deletion of the stop codon restores it; another base of
  the stop codon changed may give an amino acid or a stop again (undetermined: the report of
  either change alone does not say what the codon becomes).

Anything else that is known is not a reversion; what cannot be told (no coding change where the
lengths matter) is undetermined. A change in an intron or UTR is not read as a reversion (a
splice-site reversion is rare and cannot be told from the report). Whether the two variants lie on
the same allele is never known from a report; the rules say so in their caveats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from fhir_resist.domain import Alteration, Origin
from fhir_resist.hgvs import CodingChange, ProteinChange

if TYPE_CHECKING:  # named in annotations only
    from fhir_resist.catalogue.schema import ReversionPattern

REVERSION_WINDOW = "reversion-window-nt"  # catalogue parameter: how near a compensating indel must lie
_IN_FRAME_PROTEIN = frozenset(
    {"missense", "synonymous", "inframe-deletion", "inframe-insertion", "inframe-delins", "duplication"}
)


class Reversion(StrEnum):
    RESTORES = "restores"
    NOT_RESTORING = "not-restoring"
    UNDETERMINED = "undetermined"


def truncation(alt: Alteration) -> str | None:
    """``frameshift`` or ``nonsense`` when the variant truncates its protein that way, else None."""
    consequence = alt.consequence or (alt.protein.consequence if alt.protein else None)
    return consequence if consequence in {"frameshift", "nonsense"} else None


def same_variant(a: Alteration, b: Alteration) -> bool:
    """Whether two results show the same variant (the same change reported again, or one result)."""
    if a.source == b.source:
        return True
    if a.coding is not None and b.coding is not None:
        return a.coding.text == b.coding.text
    return a.protein is not None and b.protein is not None and a.protein.text == b.protein.text


def reversion(original: Alteration, second: Alteration, window: float) -> Reversion:
    """What ``second`` does to the reading frame of the truncating ``original`` (same gene)."""
    kind = truncation(original)
    if kind is None or same_variant(original, second):
        return Reversion.NOT_RESTORING
    first, other = _exonic(original.coding), _exonic(second.coding)
    if first is not None and other is not None:
        return _by_coding(kind, first, other, second.protein, window)
    if second.coding is not None and other is None and second.protein is None:
        return Reversion.NOT_RESTORING  # intronic or UTR: no change to the reading frame read here
    return _by_protein(kind, original, second)


def _exonic(coding: CodingChange | None) -> CodingChange | None:
    """The coding change when it lies wholly in the coding sequence (no intron or UTR position)."""
    if coding is None or coding.utr is not None or coding.intronic or coding.kind in {"unknown", "inversion"}:
        return None
    return coding


def _span(c: CodingChange) -> tuple[int, int]:
    return c.start, c.end if c.end is not None else c.start


def _length_change(c: CodingChange) -> int:
    """Nucleotides gained (positive) or lost (negative) by a coding change."""
    start, end = _span(c)
    if c.kind == "substitution":
        return 0
    if c.kind in {"insertion", "duplication"}:
        return len(c.alt) if c.kind == "insertion" and c.alt else end - start + 1
    removed = end - start + 1
    return len(c.alt or "") - removed if c.kind == "delins" else -removed


def _by_coding(
    kind: str, first: CodingChange, other: CodingChange, protein: ProteinChange | None, window: float
) -> Reversion:
    start, end = _span(first)
    o_start, o_end = _span(other)
    d_other = _length_change(other)
    if other.kind in {"deletion", "delins"} and o_start <= start and end <= o_end:
        stops = protein is not None and (protein.consequence == "nonsense" or "*" in (protein.alt or ""))
        return Reversion.RESTORES if d_other % 3 == 0 and not stops else Reversion.NOT_RESTORING
    if kind == "nonsense":
        if other.kind != "substitution" or o_start == start or (o_start + 2) // 3 != (start + 2) // 3:
            return Reversion.NOT_RESTORING
        return Reversion.UNDETERMINED  # another base of the stop codon: a stop again or an amino acid
    if d_other == 0 or (_length_change(first) + d_other) % 3 != 0:
        return Reversion.NOT_RESTORING
    gap = max(o_start - end, start - o_end, 0)
    return Reversion.RESTORES if gap <= window else Reversion.UNDETERMINED


def _by_protein(kind: str, original: Alteration, second: Alteration) -> Reversion:
    """Without both coding changes: only what the protein changes settle."""
    codon = original.protein.start if original.protein is not None else original.codon
    change = second.protein
    if change is None or codon is None or change.consequence == "unknown":
        return Reversion.UNDETERMINED
    touches = codon in change.codons
    if kind == "nonsense":
        if not touches or change.consequence in {"frameshift", "inframe-insertion", "duplication"}:
            return Reversion.NOT_RESTORING
        if change.consequence in {"inframe-deletion", "inframe-delins"}:  # the stop codon removed
            return Reversion.NOT_RESTORING if "*" in (change.alt or "") else Reversion.RESTORES
        return Reversion.UNDETERMINED  # another base of the stop codon: a stop again or an amino acid
    if change.consequence in _IN_FRAME_PROTEIN and not touches:
        return Reversion.NOT_RESTORING  # an in-frame change elsewhere leaves the frameshift
    return Reversion.UNDETERMINED  # a second frameshift, or an in-frame change over the first


def _original_fits(pattern: ReversionPattern, original: Alteration, second: Alteration) -> bool:
    if original.gene != second.gene or truncation(original) not in pattern.consequences:
        return False
    if pattern.origin == "somatic" and original.origin is Origin.GERMLINE:
        return False
    return not (pattern.origin == "germline" and original.origin is not Origin.GERMLINE)


def _rank(alt: Alteration) -> tuple[int, date, float, str]:
    """The order in which two truncating variants arose: germline first, then the one seen earlier,
    then the larger allele fraction (the source decides a tie)."""
    return (
        0 if alt.origin is Origin.GERMLINE else 1,
        alt.observed or date.max,
        -(alt.vaf or 0.0),
        alt.source,
    )


def reversions(
    pattern: ReversionPattern, second: Alteration, present: Sequence[Alteration], window: float
) -> dict[Reversion, tuple[Alteration, ...]]:
    """The present truncating variants of ``second``'s gene that fit ``pattern``, by what ``second``
    does to each. A variant is never its own reversion, nor that of a variant that arose after it
    (two frameshifts that restore each other's frame are one finding, on the later one)."""
    out: dict[Reversion, list[Alteration]] = {}
    for original in present:
        if (
            _original_fits(pattern, original, second)
            and not same_variant(original, second)
            and _rank(original) < _rank(second)
        ):
            out.setdefault(reversion(original, second, window), []).append(original)
    return {k: tuple(v) for k, v in out.items()}
