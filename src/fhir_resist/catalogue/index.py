"""The loaded catalogue, indexed so matching cost does not grow with the number of rules."""

from __future__ import annotations

import re
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from fhir_resist import terminology
from fhir_resist.catalogue.hgnc import HgncTable, load_table
from fhir_resist.catalogue.named import named_genes
from fhir_resist.catalogue.schema import (
    AlterationPattern,
    CatalogueMeta,
    Drug,
    DrugClass,
    DrugsFile,
    Gene,
    GenesFile,
    RequirementRule,
    ResistanceGeneSet,
    Rule,
    TherapyScope,
    TumourNode,
    TumoursFile,
)
from fhir_resist.domain import Coding
from fhir_resist.reading_rules import ReadingRules

ANY = "ANY"


@dataclass(frozen=True, slots=True)
class _Named:
    genes: frozenset[str]
    answers: dict[tuple[str | None, str | None], bool]  # (symbol, HGNC id) -> names_gene


_NAMED: dict[int, _Named] = {}  # by the id of a living catalogue
_NAMED_ANSWERS = 50_000  # answers kept per catalogue (HGNC has some 45,000 genes); then begun anew
_ICDO3_SITE = re.compile(r"^C\d{2}(\.\d)?$")
SOLID = "SOLID"


def pattern_keys(pattern: AlterationPattern) -> tuple[str, ...]:
    """Index keys of a pattern: the gene for gene-level kinds, the biomarker kind otherwise."""
    if pattern.gene:
        return (f"{pattern.kind}:{pattern.gene}",)
    return (pattern.kind,)


@dataclass(frozen=True)
class Catalogue:
    meta: CatalogueMeta
    genes: Mapping[str, Gene]
    drugs: Mapping[str, Drug]
    classes: Mapping[str, DrugClass]
    tumours: Mapping[str, TumourNode]
    rules: tuple[Rule, ...]
    rule_files: Mapping[str, str]
    requirements: tuple[RequirementRule, ...]
    _by_key: Mapping[str, tuple[Rule, ...]]
    _gene_by_hgnc: Mapping[str, str]
    _gene_by_name: Mapping[str, str]
    _gene_by_transcript: Mapping[str, str]  # MANE RefSeq accession without version -> symbol
    _drug_by_code: Mapping[tuple[str, str], str]
    _drug_by_name: Mapping[str, str]
    _class_members: Mapping[str, frozenset[str]]
    _tumour_by_code: Mapping[tuple[str, str], str]
    _tumour_by_icd: tuple[tuple[str, str], ...]
    _ancestors: Mapping[str, tuple[str, ...]]
    # resistance-genes.yaml: genes whose uncatalogued variants are of uncertain resistance significance
    resistance_genes: tuple[ResistanceGeneSet, ...] = ()
    # HGNC's complete symbol table (reference/hgnc.tsv), read on first use: an evaluation that
    # names only the catalogue's own genes does without it.
    hgnc_table: Path | None = None
    reading: ReadingRules | None = None  # reading.yaml: how the reader reads text and copy numbers

    @property
    def version(self) -> str:
        return self.meta.version

    # ---------------------------------------------------------------- building

    @classmethod
    def build(
        cls,
        meta: CatalogueMeta,
        genes: GenesFile,
        drugs: DrugsFile,
        tumours: TumoursFile,
        rules: Iterable[tuple[str, Rule]],
        requirements: Iterable[RequirementRule] = (),
        resistance_genes: Iterable[ResistanceGeneSet] = (),
        hgnc_table: Path | None = None,
        reading: ReadingRules | None = None,
    ) -> Catalogue:
        rule_list = list(rules)
        gene_by_hgnc, gene_by_name, gene_by_transcript = _gene_indexes(genes)
        drug_by_code, drug_by_name, members = _drug_indexes(drugs)
        tumour_by_code, tumour_by_icd = _tumour_indexes(tumours)
        nodes = {node.code: node for node in tumours.tumours}
        return cls(
            meta=meta,
            genes=MappingProxyType(dict(genes.genes)),
            drugs=MappingProxyType({d.id: d for d in drugs.drugs}),
            classes=MappingProxyType({c.id: c for c in drugs.classes}),
            tumours=MappingProxyType(nodes),
            rules=tuple(rule for _, rule in rule_list),
            rule_files=MappingProxyType({rule.id: file for file, rule in rule_list}),
            requirements=tuple(requirements),
            _by_key=MappingProxyType(_rules_by_key(rule for _, rule in rule_list)),
            _gene_by_hgnc=MappingProxyType(gene_by_hgnc),
            _gene_by_name=MappingProxyType(gene_by_name),
            _gene_by_transcript=MappingProxyType(gene_by_transcript),
            _drug_by_code=MappingProxyType(drug_by_code),
            _drug_by_name=MappingProxyType(drug_by_name),
            _class_members=MappingProxyType(members),
            _tumour_by_code=MappingProxyType(tumour_by_code),
            _tumour_by_icd=tumour_by_icd,
            _ancestors=MappingProxyType(_ancestors(nodes)),
            resistance_genes=tuple(resistance_genes),
            hgnc_table=hgnc_table,
            reading=reading,
        )

    # ---------------------------------------------------------------- lookups

    def parameter(self, name: str) -> float:
        """A numeric catalogue parameter (catalogue.yaml); the linter guarantees the engine's ones exist."""
        return self.meta.parameters[name].value

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def rules_for(self, key: str) -> tuple[Rule, ...]:
        """Rules with a pattern keyed ``variant:KRAS``, ``cnv:ERBB2``, ``msi``, ``tmb``..."""
        return self._by_key.get(key, ())

    def gene_symbol(
        self, symbol: str | None, hgnc_id: str | None, transcript: str | None = None
    ) -> str | None:
        """The current HGNC symbol for a reported HGNC id, symbol, or MANE transcript (in that order).

        The catalogue's genes come first; any other HGNC id, and a previous symbol that names one
        gene only, are read from HGNC's complete table. An id withdrawn outright is not a gene.
        """
        if hgnc_id and hgnc_id in self._gene_by_hgnc:
            return self._gene_by_hgnc[hgnc_id]
        hgnc = self.hgnc() if hgnc_id or (symbol and symbol.upper() not in self._gene_by_name) else None
        if hgnc_id and hgnc is not None and (approved := hgnc.symbol(hgnc_id)):
            return self._gene_by_name.get(approved.upper(), approved)
        if symbol:
            upper = symbol.upper()
            if upper in self._gene_by_name:
                return self._gene_by_name[upper]
            current = hgnc.current(upper) if hgnc is not None else None
            return self._gene_by_name.get(current, current) if current else upper
        if transcript:
            return self._gene_by_transcript.get(transcript.split(".")[0])
        return None

    @property
    def named_genes(self) -> frozenset[str]:
        """The genes the rules, the requirements and the resistance gene sets name (``named``),
        worked out on first use (about 10 ms)."""
        return self._named().genes

    def names_gene(self, symbol: str | None, hgnc_id: str | None) -> bool:
        """Whether a reported gene (symbol, HGNC id) is, by its current symbol, one the catalogue's
        knowledge names: a simple variant in any other gene changes no finding, card or request.
        A panel names the same genes patient after patient: each answer is kept."""
        named = self._named()
        answer = named.answers.get((symbol, hgnc_id))
        if answer is None:
            if len(named.answers) >= _NAMED_ANSWERS:
                named.answers.clear()
            answer = named.answers[(symbol, hgnc_id)] = self.gene_symbol(symbol, hgnc_id) in named.genes
        return answer

    def _named(self) -> _Named:
        """What ``named_genes`` and ``names_gene`` keep, kept while this catalogue lives: outside the
        instance, which stays the plain frozen value its fields make."""
        found = _NAMED.get(id(self))
        if found is None:
            genes = named_genes((*self.rules, *self.requirements, *self.resistance_genes))
            found = _NAMED[id(self)] = _Named(genes, {})
            weakref.finalize(self, _NAMED.pop, id(self), None)
        return found

    def hgnc(self) -> HgncTable | None:
        """HGNC's complete symbol table, read once per process on first use."""
        return load_table(self.hgnc_table) if self.hgnc_table is not None else None

    def resolve_drugs(self, codings: Iterable[Coding], text: str | None) -> tuple[str, ...]:
        """Catalogue drug ids named by codings (RxNorm, ATC, NCIt) or, failing that, by text."""
        found: list[str] = []
        for coding in codings:
            if coding.system and coding.code:
                drug = self._drug_by_code.get((coding.system, coding.code))
                if drug and drug not in found:
                    found.append(drug)
        if not found:
            for name in (text, *(c.display for c in codings)):
                drug = self._drug_by_name.get(_name_key(name)) if name else None
                if drug and drug not in found:
                    found.append(drug)
        expanded: list[str] = []
        for drug in found:
            for part in (drug, *self.drugs[drug].components):
                if part not in expanded:
                    expanded.append(part)
        return tuple(expanded)

    def members(self, scope: TherapyScope) -> frozenset[str]:
        """Drug ids a therapy scope covers."""
        out: set[str] = set(scope.drugs)
        for class_id in scope.classes:
            out |= self._class_members.get(class_id, frozenset())
        return frozenset(out - set(scope.except_drugs))

    def class_members(self, class_id: str) -> frozenset[str]:
        return self._class_members.get(class_id, frozenset())

    def resolve_tumour(self, codings: Iterable[Coding]) -> str | None:
        """The OncoTree code for a Condition's codings (SNOMED CT, NCIt, ICD-10-CM, OncoTree)."""
        icd_codes: list[str] = []
        for coding in codings:
            if not coding.code:
                continue
            system = coding.system or ""
            if "oncotree" in system.lower():
                hit = self._tumour_by_code.get(("oncotree", coding.code.upper()))
            else:
                hit = self._tumour_by_code.get((system, coding.code))
            if hit:
                return hit
            if system in {terminology.ICD10CM, terminology.ICD10}:
                icd_codes.append(coding.code.upper())
            elif system == terminology.ICDO3 and _ICDO3_SITE.match(coding.code.upper()):
                # ICD-O-3 topography shares the ICD-10 site codes (C18 colon, C34 lung, C50 breast ...);
                # morphology codes (8140/3) name no site and are not used.
                icd_codes.append(coding.code.upper())
        for code in icd_codes:
            for prefix, node in self._tumour_by_icd:
                if code.startswith(prefix):
                    return node
        return None

    def lineage(self, code: str) -> tuple[str, ...]:
        """The code and its ancestors, nearest first."""
        return self._ancestors.get(code, (code,))

    def tumour_in_scope(self, code: str, include: Iterable[str]) -> bool:
        scope = set(include)
        if ANY in scope:
            return True
        node = self.tumours.get(code)
        if SOLID in scope and node is not None and node.solid:
            return True
        return any(c in scope for c in self.lineage(code))

    def tumour_name(self, code: str) -> str:
        node = self.tumours.get(code)
        return node.name if node else code


def _name_key(name: str | None) -> str:
    return " ".join((name or "").lower().replace("-", " ").replace("/", " ").split())


# ---------------------------------------------------------------- indexes (built once, by build)


def _rules_by_key(rules: Iterable[Rule]) -> dict[str, tuple[Rule, ...]]:
    """Rules under each pattern key they match, in catalogue order."""
    by_key: defaultdict[str, list[Rule]] = defaultdict(list)
    for rule in rules:
        keys = {key for pattern in rule.alterations for key in pattern_keys(pattern)}
        for key in sorted(keys):
            by_key[key].append(rule)
    return {k: tuple(v) for k, v in by_key.items()}


def _gene_indexes(genes: GenesFile) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Current symbols by HGNC id, by upper-case symbol or alias, and by MANE RefSeq accession."""
    by_hgnc = {g.hgnc_id: symbol for symbol, g in genes.genes.items() if g.hgnc_id}
    by_name: dict[str, str] = {}
    for symbol, gene in genes.genes.items():
        for name in (*gene.aliases, *gene.previous_symbols):
            by_name.setdefault(name.upper(), symbol)
    for symbol in genes.genes:
        by_name[symbol.upper()] = symbol
    by_transcript = {
        accession.split(".")[0]: symbol
        for symbol, g in genes.genes.items()
        for accession in ((g.mane_select.refseq,) if g.mane_select and g.mane_select.refseq else ())
        + g.mane_plus_clinical
    }
    return by_hgnc, by_name, by_transcript


def _drug_indexes(
    drugs: DrugsFile,
) -> tuple[dict[tuple[str, str], str], dict[str, str], dict[str, frozenset[str]]]:
    """Drug ids by (system, code) and by normalised name, and the drug ids of each class."""
    by_code: dict[tuple[str, str], str] = {}
    by_name: dict[str, str] = {}
    members: defaultdict[str, set[str]] = defaultdict(set)
    for drug in drugs.drugs:
        if drug.codes.rxnorm:
            by_code[(terminology.RXNORM, drug.codes.rxnorm)] = drug.id
        for atc in (*drug.codes.atc, *drug.codes.atc_superseded):
            by_code[(terminology.ATC, atc)] = drug.id
        if drug.codes.ncit:
            by_code[(terminology.NCIT, drug.codes.ncit)] = drug.id
        for name in (drug.id, drug.name, *drug.synonyms):
            by_name[_name_key(name)] = drug.id
        for class_id in drug.classes:
            members[class_id].add(drug.id)
    return by_code, by_name, {k: frozenset(v) for k, v in members.items()}


def _tumour_indexes(
    tumours: TumoursFile,
) -> tuple[dict[tuple[str, str], str], tuple[tuple[str, str], ...]]:
    """OncoTree codes by (system, code), and ICD-10-CM prefixes with their code, most specific first."""
    by_code: dict[tuple[str, str], str] = {}
    icd: list[tuple[str, str]] = []
    for node in tumours.tumours:
        by_code[("oncotree", node.code)] = node.code
        for snomed in node.snomed:
            by_code[(terminology.SNOMED, snomed)] = node.code
        for ncit in node.ncit:
            by_code[(terminology.NCIT, ncit)] = node.code
        icd.extend((prefix.upper(), node.code) for prefix in node.icd10cm)
    icd.sort(key=lambda item: -len(item[0]))  # most specific prefix first
    return by_code, tuple(icd)


def _ancestors(nodes: Mapping[str, TumourNode]) -> dict[str, tuple[str, ...]]:
    """Each code with its ancestors, nearest first (a broken or cyclic parent chain stops)."""
    ancestors: dict[str, tuple[str, ...]] = {}
    for code in nodes:
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in nodes and current not in chain:
            chain.append(current)
            current = nodes[current].parent
        ancestors[code] = tuple(chain)
    return ancestors
