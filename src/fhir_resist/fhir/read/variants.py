"""Variant Observations: simple variants, copy-number changes and fusions."""

from __future__ import annotations

from typing import Any

from fhir_resist import terminology
from fhir_resist.domain import Alteration, Call, CnvCall, Kind, Severity
from fhir_resist.fhir.read.collection import Notes
from fhir_resist.fhir.read.components import (
    Components,
    Gene,
    all_text,
    component_text,
    components,
    first_text,
    fusion_genes,
    gene,
    origin,
    quantity,
    value_codes,
)
from fhir_resist.fhir.read.elements import JSON, codes_of, displays, items, number, unit_of
from fhir_resist.fhir.read.hgvs_slots import hgvs_changes, missing_changes
from fhir_resist.fhir.read.links import GeneWanted, Links
from fhir_resist.reading_rules import CopyNumberCutoffs

_REARRANGEMENTS = frozenset(
    {terminology.SO_GENE_FUSION, terminology.SO_TRANSLOCATION, terminology.SO_COMPLEX_REARRANGEMENT}
)
_COPY_NUMBER_TYPES = frozenset(
    {terminology.SO_COPY_NUMBER_VARIATION, terminology.SO_DELETION, terminology.SO_DUPLICATION}
)
_GAIN_OR_LOSS = frozenset({terminology.SO_COPY_NUMBER_GAIN, terminology.SO_COPY_NUMBER_LOSS})
_VAF_WHERE = "component:sample-allelic-frequency"


def read_variant(ref: str, res: JSON, links: Links, notes: Notes) -> Alteration | None:
    """A variant Observation as a simple variant, a copy-number change or a fusion."""
    call = _call(ref, res, notes)
    if call is None:
        return None
    comps = components(res)
    if not _READ_COMPONENTS.issuperset(comps):  # else every component's codes are read
        _note_unread(ref, res, notes)
    genes = [g for c in comps.get(terminology.GENE_STUDIED, ()) if (g := gene(c))[0] or g[1]]
    symbol, hgnc_id = genes[0] if genes else (None, None)
    # in the order reported: the first consequence code given is the one used
    change_types = value_codes(comps, terminology.DNA_CHANGE_TYPE, terminology.MOLECULAR_CONSEQUENCE)
    if links.wanted is not None and _unwanted(links.wanted, genes, comps, change_types):
        return None
    common = links.finding_fields(ref, res)  # a new dict: completed here
    common["gene"] = symbol
    common["hgnc_id"] = hgnc_id
    common["origin"] = origin(comps.get(terminology.SOURCE_CLASS, ()))
    common["call"] = call

    variation = all_text(comps, terminology.VARIATION_CODE) if terminology.VARIATION_CODE in comps else ""
    fused = _fusion_component(ref, comps, notes)
    if (
        len(genes) >= 2
        or fused
        or "fusion" in variation.lower()
        or "::" in variation
        or _REARRANGEMENTS.intersection(change_types)
    ):
        return _fusion(ref, genes, fused, common, notes)

    copy_number = quantity(comps.get(terminology.COPY_NUMBER, ()))
    cutoffs = links.rules.copy_number if links.rules is not None else None
    # without a copy number only a gain or loss change type makes a copy-number change
    if copy_number is None and _GAIN_OR_LOSS.isdisjoint(change_types):
        cnv = None
    else:
        cnv = _cnv_call(frozenset(change_types), copy_number, cutoffs)
    if cnv is None and cutoffs is None and copy_number is not None and _COPY_NUMBER_TYPES & set(change_types):
        notes.add(
            Severity.WARNING,
            f"{ref}.component:copy-number",
            f"copy number {copy_number:g} without a gain or loss change type is not classed without "
            "the catalogue's copy-number cut-offs",
        )
    if cnv is not None:
        return _copy_number_change(ref, symbol, cnv, copy_number, common, notes)
    return _simple_variant(ref, comps, change_types, links, notes, common)


# What makes a variant Observation a fusion or a copy-number change rather than a simple variant.
_NOT_SIMPLE_COMPONENTS = frozenset(
    {terminology.GENE_FUSION, terminology.VARIATION_CODE, terminology.COPY_NUMBER}
)
_NOT_SIMPLE_TYPES = _REARRANGEMENTS | _GAIN_OR_LOSS


def _unwanted(wanted: GeneWanted, genes: list[Gene], comps: Components, change_types: list[str]) -> bool:
    """Whether this is a simple variant (one gene; no fusion, copy-number or variation component;
    no rearrangement, gain or loss type) in a gene ``wanted`` refuses."""
    return (
        len(genes) == 1
        and _NOT_SIMPLE_COMPONENTS.isdisjoint(comps)
        and _NOT_SIMPLE_TYPES.isdisjoint(change_types)
        and not wanted(*genes[0])
    )


def _fusion_component(ref: str, comps: Components, notes: Notes) -> tuple[Gene, Gene] | None:
    """The two partners named by the gene-fusion component (MII, LOINC 95123-6), if any."""
    for comp in comps.get(terminology.GENE_FUSION, ()):
        found = fusion_genes(comp)
        if found is not None and len(found) == 2 and all(g[0] or g[1] for g in found):
            return found[0], found[1]
        shown = component_text(comp) or "(no value)"
        notes.add(
            Severity.WARNING,
            f"{ref}.component:gene-fusion",
            f"gene fusion (95123-6) '{shown}' does not name two partners as GENE1::GENE2 (HGNC ids "
            "or symbols); its partners are not read",
        )
    return None


def _fusion(
    ref: str, genes: list[Gene], fused: tuple[Gene, Gene] | None, common: dict[str, Any], notes: Notes
) -> Alteration:
    """A fusion: the gene studied with its partner, from a second gene-studied component or the
    gene-fusion component (whose 5'::3' partners are both read when no gene is studied)."""
    symbol, hgnc_id = common["gene"], common["hgnc_id"]
    partner: Gene = genes[1] if len(genes) >= 2 else (None, None)
    if fused is not None and partner == (None, None):
        if not genes:
            (symbol, hgnc_id), partner = fused
        elif _same_gene(genes[0], fused[0]):
            partner = fused[1]
        elif _same_gene(genes[0], fused[1]):
            partner = fused[0]
        else:
            notes.add(
                Severity.WARNING,
                f"{ref}.component:gene-fusion",
                f"the fusion {_gene_label(fused[0])}::{_gene_label(fused[1])} does not include the gene "
                f"studied, {_gene_label(genes[0])}; read as a {_gene_label(genes[0])} fusion with no "
                "partner",
            )
    first = symbol or hgnc_id or "?"
    second = partner[0] or partner[1]
    label = f"{first}::{second} fusion" if second else f"{first} fusion"
    fields = {**common, "gene": symbol, "hgnc_id": hgnc_id}
    return Alteration(kind=Kind.FUSION, partner=partner[0], partner_hgnc_id=partner[1], label=label, **fields)


def _same_gene(a: Gene, b: Gene) -> bool:
    if a[1] and b[1]:
        return a[1] == b[1]
    return a[0] is not None and a[0] == b[0]


def _gene_label(g: Gene) -> str:
    return g[0] or g[1] or "?"


def _copy_number_change(
    ref: str,
    symbol: str | None,
    cnv: CnvCall,
    copy_number: float | None,
    common: dict[str, Any],
    notes: Notes,
) -> Alteration:
    label = f"{symbol or 'region'} {cnv.value}" + (
        f" (copy number {copy_number:g})" if copy_number is not None else ""
    )
    if cnv is CnvCall.GAIN and copy_number is None:
        notes.add(
            Severity.WARNING,
            f"{ref}.component:copy-number",
            f"{symbol or 'region'} copy-number gain without a copy number: whether it is an "
            "amplification cannot be told",
        )
    return Alteration(kind=Kind.CNV, cnv=cnv, copy_number=copy_number, label=label, **common)


def _simple_variant(
    ref: str, comps: Components, change_types: list[str], links: Links, notes: Notes, common: dict[str, Any]
) -> Alteration:
    protein, coding = hgvs_changes(ref, comps, notes)
    for extra in links.consequences.get(ref, ()):  # STU3: the protein change may sit only here
        extra_comps = components(extra)
        protein, coding = missing_changes(ref, extra_comps, notes, protein, coding)
        change_types += [c for c in value_codes(extra_comps, "feature-consequence") if c not in change_types]
    codon = protein.start if protein is not None else (coding.codon if coding else None)
    consequence = protein.consequence if protein is not None else _consequence(change_types)
    transcript = (coding.transcript if coding else None) or first_text(comps, terminology.TRANSCRIPT_REF)
    iscn = first_text(comps, terminology.ISCN)
    symbol = common["gene"]
    named = symbol is not None or common["hgnc_id"] is not None  # the engine names an id-only gene
    if not named and transcript is None and iscn:
        notes.add(
            Severity.INFORMATION,
            f"{ref}.component:variant-iscn",
            f"karyotype {iscn} kept as reported: no gene or fusion is inferred from a karyotype "
            "(the catalogue's rules need the molecular result, e.g. BCR::ABL1 and its kinase-domain "
            "mutations)",
        )
    elif not named and transcript is None:
        notes.add(
            Severity.WARNING,
            f"{ref}.component:gene-studied",
            "variant names no gene (48018-6) and no transcript; it cannot be matched",
        )
    if protein is not None:
        change = f"p.{protein.text}"
    elif coding is not None:
        change = coding.text
    else:
        change = first_text(comps, terminology.G_HGVS) or (f"karyotype {iscn}" if iscn else "variant")
    return Alteration(
        kind=Kind.VARIANT,
        protein=protein,
        coding=coding,
        codon=codon,
        consequence=consequence,
        vaf=_vaf(ref, comps, notes),
        label=f"{symbol or '?'} {change}",
        transcript=transcript,
        **common,
    )


# The components of a variant Observation that some reader uses (this module, coverage.py).
_READ_COMPONENTS = frozenset(
    {
        terminology.GENE_STUDIED,
        terminology.SOURCE_CLASS,
        terminology.DNA_CHANGE_TYPE,
        terminology.MOLECULAR_CONSEQUENCE,
        terminology.COPY_NUMBER,
        terminology.VARIATION_CODE,
        terminology.P_HGVS,
        terminology.C_HGVS,
        terminology.G_HGVS,
        terminology.VAF,
        terminology.TRANSCRIPT_REF,
        terminology.ISCN,
        terminology.GENE_FUSION,
    }
)


def _note_unread(ref: str, res: JSON, notes: Notes) -> None:
    """Each component no reader uses is said (once per code for the input), never dropped silently."""
    for comp in items(res, "component"):
        found = codes_of(comp.get("code"))
        if found and _READ_COMPONENTS.isdisjoint(found):
            notes.not_read(found[0], next(iter(displays(comp.get("code"))), ""), ref)


def _call(ref: str, res: JSON, notes: Notes) -> Call | None:
    value = res.get("valueCodeableConcept")
    where = f"{ref}.valueCodeableConcept"
    if value is None:
        notes.add(
            Severity.WARNING,
            where,
            "variant has no Present/Absent value; read as Present (a reported variant)",
        )
        return Call.PRESENT
    found = codes_of(value)
    if terminology.PRESENT in found:
        return Call.PRESENT
    if terminology.ABSENT in found:
        return Call.ABSENT
    if terminology.NO_CALL in found or terminology.INDETERMINATE in found:
        notes.add(
            Severity.INFORMATION, where, "no call / indeterminate: not a finding, and not evidence of absence"
        )
        return None
    notes.add(
        Severity.WARNING,
        where,
        "value is not Present (LA9633-4), Absent (LA9634-2) or No call (LA18198-4); ignored",
    )
    return None


def _vaf(ref: str, comps: Components, notes: Notes) -> float | None:
    for comp in comps.get(terminology.VAF, ()):
        measured = comp.get("valueQuantity")
        if not isinstance(measured, dict):
            continue
        value = number(measured.get("value"))
        if value is None:
            notes.add(Severity.WARNING, f"{ref}.{_VAF_WHERE}", "VAF value is not a number; ignored")
            return None
        unit = unit_of(measured)
        percent = unit.strip().lower() in {"%", "percent", "pct"}
        if not percent and 1 < value <= 100:
            notes.add(
                Severity.WARNING,
                f"{ref}.{_VAF_WHERE}",
                f"VAF {value} has no '%' unit but is above 1; read as a percentage",
            )
            percent = True
        fraction = value / 100.0 if percent else value
        if not 0.0 <= fraction <= 1.0:
            notes.add(
                Severity.WARNING, f"{ref}.{_VAF_WHERE}", f"VAF {value} {unit} is outside 0-100 %; ignored"
            )
            return None
        return fraction
    return None


def _cnv_call(
    change_types: frozenset[str], copy_number: float | None, cutoffs: CopyNumberCutoffs | None
) -> CnvCall | None:
    """Copy-number direction from the DNA change type and copy number, by the catalogue's
    cut-offs (``catalogue/reading.yaml``); without them only the change type is read (a loss is
    then a loss, never a deletion of every copy).

    Gains stay gains here: whether a gain is an amplification is the catalogue's threshold
    (parameter ``amplification-min-copies``), applied by the engine.
    """
    if copy_number is not None and change_types & {terminology.SO_DELETION, terminology.SO_DUPLICATION}:
        change_types |= {terminology.SO_COPY_NUMBER_VARIATION}
    if terminology.SO_COPY_NUMBER_GAIN in change_types:
        return CnvCall.GAIN
    deleted = cutoffs is not None and copy_number is not None and copy_number < cutoffs.deletion_below
    if terminology.SO_COPY_NUMBER_LOSS in change_types:
        return CnvCall.DELETION if deleted else CnvCall.LOSS
    if terminology.SO_COPY_NUMBER_VARIATION not in change_types or copy_number is None or cutoffs is None:
        return None
    if copy_number > cutoffs.gain_above:
        return CnvCall.GAIN
    if deleted:
        return CnvCall.DELETION
    if copy_number < cutoffs.loss_below:
        return CnvCall.LOSS
    return None


def _consequence(change_types: list[str]) -> str | None:
    return next(
        (terminology.SO_CONSEQUENCE[c] for c in change_types if c in terminology.SO_CONSEQUENCE), None
    )
