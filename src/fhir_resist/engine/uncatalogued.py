"""New variants no rule catalogues, in genes the catalogue ties to resistance (resistance-genes.yaml).

A somatic (or unknown-origin) variant, present, matched by no rule's alteration pattern, in a gene
(and region) tied to resistance to a drug the patient is on now, first seen after that drug started
(an earlier sample showed it absent, at its position or across the gene or its exon), is an
``UncertainIssue``: low severity, "needs expert review", no countermeasure. Otherwise (no related
therapy, an order not yet given, timing undetermined, present before the start) it is a message.
Germline variants, synonymous changes and the drug's own target alterations are never reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Region, ResistanceGene, ResistanceGeneSet
from fhir_resist.domain import (
    Alteration,
    Call,
    Kind,
    Message,
    Origin,
    PatientContext,
    Severity,
    Therapy,
)
from fhir_resist.engine.longitudinal import (
    ADEQUATE_TUMOUR_FRACTION,
    History,
    by_gene,
    history,
    sample_date,
    sample_of,
)
from fhir_resist.engine.match import exon_of, fits, locus_key
from fhir_resist.engine.model import TimingCall, UncertainIssue
from fhir_resist.engine.regimens import Resolved
from fhir_resist.engine.timing import timing_of


@dataclass(frozen=True, slots=True)
class _Tie:
    """A gene set (and its gene entry) whose gene and region hold the variant."""

    gene_set: ResistanceGeneSet
    entry: ResistanceGene
    region: Region | None


def uncatalogued_variants(
    context: PatientContext,
    alterations: tuple[Alteration, ...],
    tumour: str | None,
    current: Resolved,
    catalogue: Catalogue,
) -> tuple[tuple[UncertainIssue, ...], tuple[Message, ...]]:
    """The uncertain-resistance issues of the current therapies, and the messages for the rest."""
    issues: list[UncertainIssue] = []
    messages: list[Message] = []
    groups = by_gene(alterations)
    entries = _entries_in_scope(tumour, catalogue)
    for hits in _candidate_loci(context, alterations, catalogue):
        alt = hits[0]
        ties = _ties(alt, entries.get(alt.gene or "", ()), catalogue)
        if not ties:
            continue
        related = _related_therapies(ties, current, catalogue)
        observations = tuple(dict.fromkeys(a.source for a in hits))
        if not related:
            messages.append(
                _message(alt, ties, catalogue, "the patient is on none of these drugs; not an alert")
            )
            continue
        samples = _history(alt, groups, context, catalogue)
        for therapy, drugs, sets in related:
            names = _drug_names(drugs, catalogue)
            timing, reason = timing_of(samples, therapy)
            if therapy.proposed:
                why = (
                    f"{names} is ordered, not yet given; whether the variant bears on it needs expert review"
                )
            elif timing is TimingCall.PRIMARY:
                why = f"{reason}, so it is not new on {names}; not an alert"
            elif timing is TimingCall.UNDETERMINED:
                why = (
                    f"whether it is new on {names} cannot be told ({reason}; no earlier sample shows "
                    f"{alt.gene} tested at this position); not an alert, needs expert review"
                )
            else:
                issues.append(
                    _issue(context, alt, observations, therapy, drugs, sets, ties, reason, catalogue)
                )
                continue
            messages.append(_message(alt, tuple(t for t in ties if t.gene_set in sets), catalogue, why))
    return tuple(issues), tuple(messages)


def _candidate_loci(
    context: PatientContext, alterations: tuple[Alteration, ...], catalogue: Catalogue
) -> list[list[Alteration]]:
    """Present non-germline, non-synonymous variants no rule catalogues, grouped by variant,
    latest sample first."""
    loci: dict[tuple[object, ...], list[Alteration]] = {}
    for alt in alterations:
        if (
            alt.kind is not Kind.VARIANT
            or alt.call is not Call.PRESENT
            or alt.origin is Origin.GERMLINE
            or alt.gene is None
            or alt.consequence == "synonymous"
            or (alt.protein is None and alt.codon is None)
            or _catalogued(alt, catalogue)
        ):
            continue
        loci.setdefault(locus_key(alt), []).append(alt)
    for hits in loci.values():
        hits.sort(key=lambda a: (sample_date(a, context)[0] or date.min, a.source), reverse=True)
    return list(loci.values())


def _catalogued(alt: Alteration, catalogue: Catalogue) -> bool:
    """Whether any rule has an alteration pattern this variant fits (whatever the tumour or drug)."""
    gene = catalogue.genes.get(alt.gene or "")
    return any(
        fits(pattern, alt, alt.gene, gene)
        for rule in catalogue.rules_for(f"variant:{alt.gene}")
        for pattern in rule.alterations
    )


def _entries_in_scope(
    tumour: str | None, catalogue: Catalogue
) -> dict[str, list[tuple[ResistanceGeneSet, ResistanceGene]]]:
    """The gene entries of the gene sets whose tumours hold this tumour, by gene, in catalogue
    order (worked out once per evaluation, not once per variant)."""
    out: dict[str, list[tuple[ResistanceGeneSet, ResistanceGene]]] = {}
    for gene_set in catalogue.resistance_genes:
        if tumour is not None and not catalogue.tumour_in_scope(tumour, gene_set.tumours):
            continue
        for entry in gene_set.genes:
            out.setdefault(entry.gene, []).append((gene_set, entry))
    return out


def _ties(
    alt: Alteration, entries: Iterable[tuple[ResistanceGeneSet, ResistanceGene]], catalogue: Catalogue
) -> tuple[_Tie, ...]:
    """The gene sets whose gene, region and tumours hold the variant, unless it is a drug target
    (``entries``: the variant's gene's entries in the gene sets in scope, ``_entries_in_scope``)."""
    gene = catalogue.genes.get(alt.gene or "")
    ties: list[_Tie] = []
    for gene_set, entry in entries:
        if any(fits(p, alt, alt.gene, gene) for p in entry.drug_targets):
            continue
        if not entry.regions:
            ties.append(_Tie(gene_set, entry, None))
            continue
        region = next((r for r in entry.regions if _in_region(alt, r, catalogue)), None)
        if region is not None:
            ties.append(_Tie(gene_set, entry, region))
    return tuple(ties)


def _in_region(alt: Alteration, region: Region, catalogue: Catalogue) -> bool:
    codons = alt.protein.codons if alt.protein is not None else range(alt.codon or 0, (alt.codon or 0) + 1)
    if region.exons:
        gene = catalogue.genes.get(alt.gene or "")
        exons = {alt.exon} if alt.exon is not None else {exon_of(gene, c) for c in codons}
        return bool(exons & set(region.exons))
    start, end = region.codon_start or 0, region.codon_end or 0  # the schema requires both here
    return any(start <= c <= end for c in codons)


def _related_therapies(
    ties: tuple[_Tie, ...], current: Resolved, catalogue: Catalogue
) -> list[tuple[Therapy, tuple[str, ...], tuple[ResistanceGeneSet, ...]]]:
    """Each current therapy with its drugs the ties speak of, and the gene sets that speak of them."""
    out = []
    for therapy, drugs in current:
        sets: list[ResistanceGeneSet] = []
        affected: list[str] = []
        for tie in ties:
            covered = _members(tie.gene_set, catalogue)
            hit = [d for d in drugs if d in covered]
            if hit:
                affected += [d for d in hit if d not in affected]
                if tie.gene_set not in sets:
                    sets.append(tie.gene_set)
        if affected:
            out.append((therapy, tuple(affected), tuple(sets)))
    return out


def _members(gene_set: ResistanceGeneSet, catalogue: Catalogue) -> frozenset[str]:
    return frozenset(gene_set.drugs) | {d for c in gene_set.classes for d in catalogue.class_members(c)}


def _history(
    alt: Alteration,
    groups: Mapping[tuple[Kind, str | None], tuple[Alteration, ...]],
    context: PatientContext,
    catalogue: Catalogue,
) -> History:
    """The variant's results, plus earlier negatives that covered it: gene-wide, or for its exon
    (``groups``: the patient's alterations by kind and gene, ``longitudinal.by_gene``)."""
    adequate = catalogue.parameter(ADEQUATE_TUMOUR_FRACTION)
    own = history(alt, groups.get((alt.kind, alt.gene), ()), context, adequate)
    gene = catalogue.genes.get(alt.gene or "")
    exon = alt.exon or exon_of(gene, alt.codon)
    extra = [
        sample_of(other, context, adequate)
        for other in groups.get((Kind.VARIANT, alt.gene), ())
        if other.kind is Kind.VARIANT
        and other.call is Call.ABSENT
        and other.gene == alt.gene
        and other.protein is None
        and other.codon is None
        and (other.exon is None or other.exon == exon)
    ]
    samples = sorted(
        (*own.samples, *extra),
        key=lambda s: (s.when is None, s.when or date.min, s.call is Call.PRESENT, s.source),
    )
    return History(tuple(samples))


def _issue(
    context: PatientContext,
    alt: Alteration,
    observations: tuple[str, ...],
    therapy: Therapy,
    drugs: tuple[str, ...],
    sets: tuple[ResistanceGeneSet, ...],
    ties: tuple[_Tie, ...],
    reason: str,
    catalogue: Catalogue,
) -> UncertainIssue:
    used = tuple(t for t in ties if t.gene_set in sets)
    names = _drug_names(drugs, catalogue)
    started = f" started on {therapy.start.isoformat()}" if therapy.start else ""
    detail = (
        f"New variant, not in the catalogue: {alt.label} appeared after {names}{started} ({reason}). "
        f"{_tied(alt, used, catalogue)}. Its significance for {names} is uncertain and needs expert "
        "review (for example a molecular tumour board); it does not predict that the drug fails, and "
        "no countermeasure is proposed."
    )
    text = "|".join(
        [
            "uncertain-resistance",
            context.patient or "",
            *(s.id for s in sets),
            therapy.source,
            *sorted(observations),
        ]
    )
    return UncertainIssue(
        identifier=hashlib.sha256(text.encode()).hexdigest()[:32],
        therapy=therapy,
        drugs=drugs,
        alteration=alt,
        observations=observations,
        gene_sets=sets,
        mechanism=used[0].entry.mechanism,
        timing_reason=reason,
        detail=detail,
    )


def _message(alt: Alteration, ties: Iterable[_Tie], catalogue: Catalogue, why: str) -> Message:
    ties = tuple(ties)
    return Message(
        Severity.INFORMATION,
        alt.source,
        f"{alt.label}: not in the catalogue. {_tied(alt, ties, catalogue)}; {why}",
    )


def _tied(alt: Alteration, ties: tuple[_Tie, ...], catalogue: Catalogue) -> str:
    """'MAP2K1 is a gene the catalogue ties to resistance to BRAF inhibitor, MEK inhibitor (...)'."""
    targets: list[str] = []
    for tie in ties:
        for name in (
            *(catalogue.classes[c].name for c in tie.gene_set.classes if c in catalogue.classes),
            *(catalogue.drugs[d].name for d in tie.gene_set.drugs if d in catalogue.drugs),
        ):
            if name not in targets:
                targets.append(name)
    regions = [t.region.name for t in ties if t.region is not None]
    where = f", in its {regions[0]}," if regions else ","
    sets = ", ".join(dict.fromkeys(t.gene_set.id for t in ties))
    return (
        f"The variant lies in {alt.gene}{where} a gene the catalogue ties to resistance to "
        f"{', '.join(targets)} [{sets}]"
    )


def _drug_names(drugs: tuple[str, ...], catalogue: Catalogue) -> str:
    return " + ".join(catalogue.drugs[d].name for d in drugs if d in catalogue.drugs) or ", ".join(drugs)
