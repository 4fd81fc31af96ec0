"""What a genomic report says it studied: genes, exons or codons, the kinds of change assessed,
and uncallable regions.

Two shapes are read: STU2 / mCODE RegionStudied Observations (LOINC 53041-0) among the report's
results, and the STU3 GenomicStudy the report points to (extension genomic-study-reference),
through its GenomicStudyAnalysis procedures (regions studied / uncalled, change types). Nothing is
assumed: ranges given as genomic coordinates, and regions listed in BED files, are stated but not
readable here; they are named, and the genes they concern get no scope from them.
"""

from __future__ import annotations

import re

from fhir_resist import terminology
from fhir_resist.domain import Coverage, GeneScope, Kind, Severity
from fhir_resist.fhir.read.collection import Collected, Notes
from fhir_resist.fhir.read.components import components, gene
from fhir_resist.fhir.read.elements import JSON, code_set, items, obj, string

# The Sequence Ontology change types of a GenomicStudyAnalysis, by the kind of finding they detect.
_CHANGE_KINDS = {
    terminology.SO_SNV: Kind.VARIANT,
    terminology.SO_MNV: Kind.VARIANT,
    terminology.SO_DELINS: Kind.VARIANT,
    terminology.SO_DELETION: Kind.VARIANT,
    terminology.SO_INSERTION: Kind.VARIANT,
    terminology.SO_SUBSTITUTION: Kind.VARIANT,
    terminology.SO_DUPLICATION: Kind.VARIANT,
    terminology.SO_COPY_NUMBER_VARIATION: Kind.CNV,
    terminology.SO_COPY_NUMBER_GAIN: Kind.CNV,
    terminology.SO_COPY_NUMBER_LOSS: Kind.CNV,
    terminology.SO_GENE_FUSION: Kind.FUSION,
    terminology.SO_TRANSCRIPT_FUSION: Kind.FUSION,
}
# A region description is read only when it is nothing but exon / codon numbers: "exon 2",
# "exons 2, 3 and 4", "exons 2-4; codon 600". Anything else (words, parentheses) is not read.
_TOKEN = re.compile(r"\s*(exons?|codons?|\d{1,4}|and|to|-|–|,|;)", re.I)


def report_coverage(
    report_ref: str, report: JSON, regions: list[tuple[str, JSON]], collected: Collected, notes: Notes
) -> Coverage:
    """The coverage a report states: its RegionStudied results and its GenomicStudy analyses."""
    genes: list[GeneScope] = []
    unreadable: list[str] = []
    uncallable: list[str] = []
    for ref, res in regions:
        scopes, uncalled = read_region_studied(ref, res, notes)
        genes += scopes
        uncallable += uncalled
    kinds: set[Kind] = set()
    for ref, analysis in _analyses(report_ref, report, collected, notes):
        found = _analysis(ref, analysis, collected, notes)
        genes += found.genes
        kinds.update(found.kinds)
        unreadable += found.unreadable
        uncallable += found.uncallable
    return Coverage(
        genes=tuple(genes),
        kinds=tuple(sorted(kinds)),
        unreadable=tuple(unreadable),
        uncallable=tuple(uncallable),
    )


def read_region_studied(ref: str, res: JSON, notes: Notes) -> tuple[list[GeneScope], list[str]]:
    """An STU2 / mCODE RegionStudied Observation: (the genes and their scope, uncallable regions)."""
    comps = components(res)
    studied = [g for c in comps.get(terminology.GENE_STUDIED, ()) if (g := gene(c))[0] or g[1]]
    uncalled = [f"{ref} (component uncallable-regions)"] if comps.get(terminology.UNCALLABLE_REGIONS) else []
    if not studied:
        notes.add(
            Severity.WARNING,
            f"{ref}.component:gene-studied",
            "region studied names no gene (48018-6); it gives no scope to any result",
        )
        return [], uncalled
    descriptions = [
        value
        for c in comps.get(terminology.REGION_DESCRIPTION, ())
        if isinstance(value := c.get("valueString"), str) and value.strip()
    ]
    ranges = comps.get(terminology.RANGES_EXAMINED, ())
    scopes: list[GeneScope] = []
    for symbol, hgnc_id in studied:
        scope = _described_scope(ref, symbol, descriptions, len(studied), notes)
        if scope is not None:
            exons, codons = scope
            scopes.append(GeneScope(ref, symbol, hgnc_id, exons=exons, codons=codons))
        elif descriptions:
            scopes.append(GeneScope(ref, symbol, hgnc_id, unreadable="region description not read"))
        elif ranges:
            why = (
                "ranges examined (51959-5) are genomic coordinates; the exons they cover are not "
                "determined here"
            )
            scopes.append(GeneScope(ref, symbol, hgnc_id, unreadable=why))
        else:
            scopes.append(GeneScope(ref, symbol, hgnc_id, whole_gene=True))
    unread = [s for s in scopes if s.unreadable]
    if unread and not descriptions:
        notes.add(
            Severity.WARNING,
            f"{ref}.component:ranges-examined",
            f"{unread[0].unreadable}: the scope of {', '.join(s.gene or '?' for s in unread)} is unknown",
        )
    return scopes, uncalled


def _described_scope(
    ref: str, symbol: str | None, descriptions: list[str], genes: int, notes: Notes
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(exons, codons) from the region descriptions, when every one is only exon / codon numbers."""
    if not descriptions:
        return None
    exons: list[int] = []
    codons: list[int] = []
    for description in descriptions:
        parsed = parse_region_description(description, symbol)
        if parsed is None or genes > 1:
            why = (
                "one description for several genes"
                if parsed is not None
                else "it is not only exon or codon numbers (e.g. 'exons 2, 3 and 4', 'codon 600')"
            )
            notes.add(
                Severity.WARNING,
                f"{ref}.component:region-description",
                f"region description '{description}' not read ({why}); the scope of "
                f"{symbol or 'the gene'} is unknown",
            )
            return None
        exons += parsed[0]
        codons += parsed[1]
    return tuple(sorted(set(exons))), tuple(sorted(set(codons)))


def parse_region_description(description: str, symbol: str | None) -> tuple[list[int], list[int]] | None:
    """``[GENE] exon(s) N[, N][ and N][-M]; codon(s) ...`` -> (exons, codons); else None."""
    text = description.strip().rstrip(".")
    if symbol and text.upper().startswith(symbol.upper() + " "):
        text = text[len(symbol) + 1 :]
    position, tokens = 0, []
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return None
        tokens.append(match.group(1).lower())
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    out: dict[str, list[int]] = {"exon": [], "codon": []}
    current: list[int] | None = None
    pending_range = False
    for token in tokens:
        if token.startswith(("exon", "codon")):
            current, pending_range = out[token.rstrip("s")], False
        elif token.isdigit():
            if current is None:
                return None
            number = int(token)
            if pending_range:
                if not current or number <= current[-1] or number - current[-1] > 50:
                    return None
                current.extend(range(current[-1] + 1, number + 1))
                pending_range = False
            else:
                current.append(number)
        elif token in {"-", "–", "to"}:
            if current is None or not current or pending_range:
                return None
            pending_range = True
        elif current is None or pending_range:
            return None  # a separator before any number, or a range with no end
    if pending_range or not (out["exon"] or out["codon"]):
        return None
    return out["exon"], out["codon"]


def _analyses(report_ref: str, report: JSON, collected: Collected, notes: Notes) -> list[tuple[str, JSON]]:
    """The GenomicStudyAnalysis procedures of the studies a report points to (or the analyses
    it points to directly)."""
    out: list[tuple[str, JSON]] = []
    for ext in items(report, "extension"):
        if string(ext, "url") != terminology.EXT_GENOMIC_STUDY_REFERENCE:
            continue
        study_ref = collected.resolve(ext.get("valueReference"))
        study = collected.get(study_ref) if study_ref else None
        if study_ref is None or study is None:
            notes.add(
                Severity.WARNING,
                f"{report_ref}.extension:genomic-study-reference",
                f"the genomic study {study_ref or '(no reference)'} is not in the input; what the report "
                "studied is unknown",
            )
            continue
        linked = [
            collected.resolve(e.get("valueReference"))
            for e in items(study, "extension")
            if string(e, "url") == terminology.EXT_GENOMIC_STUDY_ANALYSIS
        ]
        if not linked:
            out.append((study_ref, study))  # a study that carries its analysis extensions itself
        for ref in linked:
            analysis = collected.get(ref) if ref else None
            if ref is None or analysis is None:
                notes.add(
                    Severity.WARNING,
                    f"{study_ref}.extension:genomic-study-analysis-ext",
                    f"the analysis {ref or '(no reference)'} is not in the input; its scope is unknown",
                )
                continue
            out.append((ref, analysis))
    return out


def _analysis(ref: str, analysis: JSON, collected: Collected, notes: Notes) -> Coverage:
    """One GenomicStudyAnalysis: genes studied (whole genes, with the change types assessed),
    regions in files (stated, not read here) and uncalled regions."""
    kinds = sorted(
        {
            _CHANGE_KINDS[code]
            for e in items(analysis, "extension")
            if string(e, "url") == terminology.EXT_ANALYSIS_CHANGE_TYPE
            for code in code_set(e.get("valueCodeableConcept"))
            if code in _CHANGE_KINDS
        }
    )
    genes: list[GeneScope] = []
    unreadable: list[str] = []
    uncallable: list[str] = []
    for regions in items(analysis, "extension"):
        if string(regions, "url") != terminology.EXT_ANALYSIS_REGIONS:
            continue
        for part in items(regions, "extension"):
            role = string(part, "url")
            target = collected.resolve(part.get("valueReference"))
            concept = obj(part, "valueCodeableConcept")
            if role == "studied" and concept:
                symbol, hgnc_id = gene({"valueCodeableConcept": concept})
                if symbol or hgnc_id:
                    genes.append(GeneScope(ref, symbol, hgnc_id, whole_gene=True, kinds=tuple(kinds)))
            elif role == "studied" and target:
                unreadable.append(f"regions studied listed in {target} (a file, not read here)")
            elif role == "uncalled" and (target or concept):
                uncallable.append(f"{target or 'a region'} (uncallable regions of {ref}, not read here)")
    if unreadable:
        notes.add(
            Severity.INFORMATION,
            f"{ref}.extension:genomic-study-analysis-regions",
            f"{'; '.join(unreadable)}: genes not named in the analysis have no known scope",
        )
    if uncallable:
        notes.add(
            Severity.WARNING,
            f"{ref}.extension:genomic-study-analysis-regions",
            f"uncallable regions are stated ({'; '.join(uncallable)}): a negative result in them cannot "
            "be told from one not tested, and they are not checked here",
        )
    return Coverage(
        genes=tuple(genes), kinds=tuple(kinds), unreadable=tuple(unreadable), uncallable=tuple(uncallable)
    )
