"""What the catalogue covers, per family of rules (a ``rules/<area>`` directory): its rules,
cases, biomarkers, genes, drugs, tumour types and evidence levels. Pure: it reads a loaded
catalogue and returns values; the ``catalogue stats`` command prints them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Rule
from fhir_resist.catalogue.schema.patterns import AlterationPattern

LEVELS = ("A", "B", "C", "D")
_MSI = {"msi-high": "MSI-high", "msi-low": "MSI-low", "stable": "MSS"}


@dataclass(frozen=True)
class FamilyCoverage:
    """One family of rules: the ``rules/<area>`` directory they are filed in."""

    family: str
    rules: int
    cases: int
    biomarkers: tuple[str, ...]  # each alteration pattern, in words, in rule order, once
    genes: tuple[str, ...]
    drugs: tuple[str, ...]  # the drugs the rules speak of (classes expanded), sorted
    tumours: tuple[str, ...]  # the OncoTree codes the rules include, sorted
    levels: tuple[tuple[str, int], ...]  # rules per evidence level, A to D, zero counts left out

    def as_json(self) -> dict[str, object]:
        return {
            "rules": self.rules,
            "cases": self.cases,
            "biomarkers": list(self.biomarkers),
            "genes": list(self.genes),
            "drugs": list(self.drugs),
            "tumours": list(self.tumours),
            "levels": dict(self.levels),
        }


def family_of(catalogue: Catalogue, rule: Rule) -> str:
    """The directory a rule's file is in (``gist-kit`` for ``rules/gist-kit/<id>.yaml``)."""
    file = catalogue.rule_files.get(rule.id)
    return PurePath(file).parent.name if file else "?"


def coverage(catalogue: Catalogue) -> tuple[FamilyCoverage, ...]:
    """Every family of the catalogue, by name."""
    families: dict[str, list[Rule]] = {}
    for rule in catalogue.rules:
        families.setdefault(family_of(catalogue, rule), []).append(rule)
    return tuple(_family(catalogue, name, families[name]) for name in sorted(families))


def _family(catalogue: Catalogue, name: str, rules: list[Rule]) -> FamilyCoverage:
    biomarkers: list[str] = []
    for rule in rules:
        for pattern in rule.alterations:
            words = biomarker(pattern)
            if words not in biomarkers:
                biomarkers.append(words)
    levels = [rule.evidence.level.value for rule in rules]
    return FamilyCoverage(
        family=name,
        rules=len(rules),
        cases=sum(len(rule.cases) for rule in rules),
        biomarkers=tuple(biomarkers),
        genes=tuple(sorted({p.gene for r in rules for p in r.alterations if p.gene})),
        drugs=tuple(sorted({d for r in rules for d in catalogue.members(r.therapies)})),
        tumours=tuple(sorted({t for r in rules for t in r.tumours.include})),
        levels=tuple((level, levels.count(level)) for level in LEVELS if level in levels),
    )


def biomarker(pattern: AlterationPattern) -> str:
    """An alteration pattern in a few words: ``KIT codons 654, 670``, ``ERBB2 amplification``."""
    if pattern.kind == "msi":
        return _MSI[pattern.msi or "stable"]
    if pattern.kind == "tmb":
        return f"TMB >= {pattern.min_tmb:g}/Mb"
    gene = pattern.gene or ""
    if pattern.kind == "cnv":
        return f"{gene} {pattern.cnv}"
    if pattern.kind == "fusion":
        return f"{gene}-{pattern.partner} fusion" if pattern.partner else f"{gene} fusion"
    if pattern.kind == "expression":
        return f"{gene} {pattern.expression} (expression)"
    return " ".join((gene, *_variant_filters(pattern)))


def _variant_filters(pattern: AlterationPattern) -> list[str]:
    parts: list[str] = []
    if pattern.proteins:
        parts.append("/".join(pattern.proteins))
    if pattern.codons:
        parts.append(("codon " if len(pattern.codons) == 1 else "codons ") + _joined(pattern.codons))
    if pattern.exons:
        parts.append(("exon " if len(pattern.exons) == 1 else "exons ") + _joined(pattern.exons))
    if pattern.consequences:
        parts.append("/".join(pattern.consequences))
    if pattern.reverts is not None:
        parts.append(f"reversion of a {'/'.join(pattern.reverts.consequences)}")
    if not parts:
        parts.append("variant")
    if pattern.origin == "germline":
        parts.append("(germline)")
    return parts


def _joined(numbers: tuple[int, ...]) -> str:
    return ", ".join(str(n) for n in numbers)


def markdown_table(families: tuple[FamilyCoverage, ...]) -> str:
    """The coverage table of the catalogue README: family, biomarkers, drugs, evidence levels."""
    lines = [
        "| family | rules | cases | biomarkers | drugs | evidence levels |",
        "| --- | ---: | ---: | --- | --- | --- |",
    ]
    for fam in families:
        levels = ", ".join(f"{level} {count}" for level, count in fam.levels)
        cells = (
            f"`{fam.family}`",
            str(fam.rules),
            str(fam.cases),
            "; ".join(fam.biomarkers),
            ", ".join(fam.drugs),
            levels,
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    total_rules = sum(f.rules for f in families)
    total_cases = sum(f.cases for f in families)
    lines.append(f"| **all** | {total_rules} | {total_cases} | | | |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
