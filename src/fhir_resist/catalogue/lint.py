"""Cross-file checks the schema cannot make: every name a rule uses must exist and agree."""

from __future__ import annotations

from collections import Counter
from pathlib import PurePath

from fhir_resist.catalogue.index import ANY, SOLID, Catalogue
from fhir_resist.catalogue.schema import (
    AlterationPattern,
    Biomarker,
    DailyDoseBelow,
    Effect,
    PriorTherapy,
    ResistanceGeneSet,
    Rule,
    Strategy,
    TumourCondition,
)


def lint(catalogue: Catalogue) -> list[str]:
    """Every problem as ``file: rule-id: message (hint)``; empty when the catalogue is clean."""
    problems: list[str] = []
    problems += _reference_data(catalogue)
    problems += _resistance_genes(catalogue)
    counts = Counter(rule.id for rule in catalogue.rules)
    for rule in catalogue.rules:
        file = catalogue.rule_files.get(rule.id, "?")
        where = f"{file}: {rule.id}"
        if counts[rule.id] > 1:
            problems.append(f"{where}: duplicate rule id (ids must be unique across rules/)")
        if PurePath(file).stem != rule.id:
            problems.append(f"{where}: file name must be the rule id ({rule.id}.yaml)")
        problems += [f"{where}: {p}" for p in _rule(catalogue, rule)]
    return problems


# Parameters the engine reads (catalogue.yaml `parameters`).
ENGINE_PARAMETERS = (
    "ctdna-adequate-tumour-fraction",
    "subclonal-tissue-vaf",
    "recent-administration-days",
    "amplification-min-copies",
    "reversion-window-nt",
)


def _reference_data(catalogue: Catalogue) -> list[str]:
    problems: list[str] = [
        f"catalogue.yaml: parameters: '{name}' is missing (the engine needs it)"
        for name in ENGINE_PARAMETERS
        if name not in catalogue.meta.parameters
    ]
    for drug in catalogue.drugs.values():
        for class_id in drug.classes:
            if class_id not in catalogue.classes:
                problems.append(
                    f"drugs.yaml: {drug.id}: unknown class '{class_id}' (declare it under classes)"
                )
        for part in drug.components:
            if part not in catalogue.drugs:
                problems.append(f"drugs.yaml: {drug.id}: unknown component drug '{part}'")
        codes = drug.codes
        if not (codes.rxnorm or codes.atc or codes.ncit) and not drug.note:
            problems.append(f"drugs.yaml: {drug.id}: no verified code; say why in 'note'")
    for node in catalogue.tumours.values():
        if node.parent is not None and node.parent not in catalogue.tumours:
            problems.append(f"tumours.yaml: {node.code}: unknown parent '{node.parent}'")
    return problems


def _rule(catalogue: Catalogue, rule: Rule) -> list[str]:
    covered = catalogue.members(rule.therapies)
    return [
        *(problem for pattern in _patterns(rule) for problem in _pattern(catalogue, pattern)),
        *_therapies(catalogue, rule),
        *_conditions(catalogue, rule),
        *_tumours(catalogue, rule),
        *([] if covered else ["therapies: the scope covers no drug"]),
        *_countermeasures(catalogue, rule, covered),
        *([] if rule.evidence.references else ["evidence: no references"]),
        *_cases(catalogue, rule),
    ]


def _patterns(rule: Rule) -> list[AlterationPattern]:
    """Every alteration pattern a rule uses: its own, its requirements', its options' and partners'."""
    patterns = [
        *rule.alterations,
        *rule.requires.all_of,
        *rule.requires.any_of,
        *rule.requires.none_of,
        *rule.requires.wild_type_tested,
    ]
    patterns += [p for cm in rule.countermeasures for p in cm.only_if]
    patterns += [p for partner in rule.therapies.unless_with for p in partner.only_if]
    patterns += [c.alteration for cm in rule.countermeasures for c in cm.requires if isinstance(c, Biomarker)]
    return patterns


def _therapies(catalogue: Catalogue, rule: Rule) -> list[str]:
    problems: list[str] = []
    for class_id in rule.therapies.classes:
        if class_id not in catalogue.classes:
            problems.append(f"therapies: unknown drug class '{class_id}' (see drugs.yaml classes)")
    for drug in (*rule.therapies.drugs, *rule.therapies.except_drugs):
        if drug not in catalogue.drugs:
            problems.append(f"therapies: unknown drug '{drug}' (see drugs.yaml)")
    for index, partner in enumerate(rule.therapies.unless_with):
        problems += _known(catalogue, f"therapies.unless_with[{index}]", partner.drugs, partner.classes)
    return problems


def _conditions(catalogue: Catalogue, rule: Rule) -> list[str]:
    """Drugs, classes and tumours named in the countermeasures' structured conditions."""
    problems: list[str] = []
    for index, cm in enumerate(rule.countermeasures):
        for n, criterion in enumerate(cm.requires):
            here = f"countermeasures[{index}].requires[{n}]"
            if isinstance(criterion, PriorTherapy):
                problems += _known(catalogue, here, criterion.drugs, criterion.classes)
            if isinstance(criterion, DailyDoseBelow):
                problems += _known(catalogue, here, (criterion.drug,), ())
            if isinstance(criterion, TumourCondition):
                problems += [
                    f"{here}: unknown OncoTree code '{code}'"
                    for code in criterion.include
                    if code not in {ANY, SOLID} and code not in catalogue.tumours
                ]
    return problems


def _tumours(catalogue: Catalogue, rule: Rule) -> list[str]:
    return [
        f"tumours: unknown OncoTree code '{code}' (see tumours.yaml)"
        for code in rule.tumours.include
        if code not in {ANY, SOLID} and code not in catalogue.tumours
    ]


def _countermeasures(catalogue: Catalogue, rule: Rule, covered: frozenset[str]) -> list[str]:
    """Unknown names and parameters, and switches to a drug the rule says fails (``covered``)."""
    problems: list[str] = []
    for index, cm in enumerate(rule.countermeasures):
        here = f"countermeasures[{index}]"
        for drug in cm.drugs:
            if drug not in catalogue.drugs:
                problems.append(f"{here}: unknown drug '{drug}' (see drugs.yaml)")
        for class_id in cm.classes:
            if class_id not in catalogue.classes:
                problems.append(f"{here}: unknown drug class '{class_id}'")
        if cm.interval_parameter and cm.interval_parameter not in catalogue.meta.parameters:
            problems.append(
                f"{here}: unknown parameter '{cm.interval_parameter}' (see catalogue.yaml parameters)"
            )
        failing = rule.effect in {Effect.RESISTANCE, Effect.REDUCED_RESPONSE}
        if failing and cm.outcome == "recommended" and cm.strategy is Strategy.SWITCH:
            offered = set(cm.drugs) | {d for c in cm.classes for d in catalogue.class_members(c)}
            clash = sorted(offered & covered)
            if clash:
                problems.append(
                    f"{here}: switches to {', '.join(clash)}, which this rule says fails "
                    "(use 'combine' when the drug works only with a partner)"
                )
    return problems


def _cases(catalogue: Catalogue, rule: Rule) -> list[str]:
    """Unknown drugs, tumours and genes in the cases, and countermeasure names the rule lacks."""
    problems: list[str] = []
    keys = {cm.key for cm in rule.countermeasures}
    for index, case in enumerate(rule.cases):
        for drug in (case.drug, *case.with_, *case.prior):
            if drug not in catalogue.drugs:
                problems.append(f"cases[{index}]: unknown drug '{drug}'")
        for listed in (case.offered, case.conditional, case.withheld):
            for key in listed or ():
                if key not in keys:
                    problems.append(f"cases[{index}]: '{key}' is not a countermeasure of this rule")
        if case.tumour not in catalogue.tumours:
            problems.append(f"cases[{index}]: unknown OncoTree code '{case.tumour}'")
        for alt in (*case.alterations, *case.absent):
            if alt.gene and alt.gene not in catalogue.genes:
                problems.append(f"cases[{index}]: unknown gene '{alt.gene}'")
    return problems


def _known(catalogue: Catalogue, here: str, drugs: tuple[str, ...], classes: tuple[str, ...]) -> list[str]:
    return [f"{here}: unknown drug '{d}' (see drugs.yaml)" for d in drugs if d not in catalogue.drugs] + [
        f"{here}: unknown drug class '{c}'" for c in classes if c not in catalogue.classes
    ]


def _pattern(catalogue: Catalogue, pattern: AlterationPattern) -> list[str]:
    problems: list[str] = []
    if pattern.gene and pattern.gene not in catalogue.genes:
        problems.append(
            f"alterations: unknown gene '{pattern.gene}' (use the current HGNC symbol in genes.yaml)"
        )
    if pattern.partner and pattern.partner not in catalogue.genes:
        problems.append(f"alterations: unknown fusion partner '{pattern.partner}'")
    gene = catalogue.genes.get(pattern.gene or "")
    if pattern.exons and gene is not None and not gene.exons:
        problems.append(
            f"alterations: exons given for {pattern.gene}, but genes.yaml has no exon map for it "
            "(use codons, or add the exon map with its source)"
        )
    return problems


def _resistance_genes(catalogue: Catalogue) -> list[str]:
    """resistance-genes.yaml: known names, and each gene derived from a listed rule of that therapy."""
    problems: list[str] = []
    ids = Counter(s.id for s in catalogue.resistance_genes)
    for gene_set in catalogue.resistance_genes:
        where = f"resistance-genes.yaml: {gene_set.id}"
        if ids[gene_set.id] > 1:
            problems.append(f"{where}: duplicate id")
        problems += [
            f"{where}: {p}" for p in _known(catalogue, "therapies", gene_set.drugs, gene_set.classes)
        ]
        problems += [
            f"{where}: tumours: unknown OncoTree code '{code}'"
            for code in gene_set.tumours
            if code not in {ANY, SOLID} and code not in catalogue.tumours
        ]
        problems += [f"{where}: {p}" for p in _gene_set_genes(catalogue, gene_set)]
    return problems


def _gene_set_genes(catalogue: Catalogue, gene_set: ResistanceGeneSet) -> list[str]:
    problems: list[str] = []
    rules = []
    for rule_id in gene_set.rules:
        rule = catalogue.rule(rule_id)
        if rule is None:
            problems.append(f"rules: unknown rule '{rule_id}'")
        else:
            rules.append(rule)
    drugs = set(gene_set.drugs) | {d for c in gene_set.classes for d in catalogue.class_members(c)}
    for entry in gene_set.genes:
        gene = catalogue.genes.get(entry.gene)
        if gene is None:
            problems.append(f"genes: unknown gene '{entry.gene}' (use the current HGNC symbol in genes.yaml)")
            continue
        derived = [
            r
            for r in rules
            if any(p.kind == "variant" and p.gene == entry.gene for p in r.alterations)
            and catalogue.members(r.therapies) & drugs
        ]
        if not derived:
            problems.append(
                f"genes: {entry.gene}: no listed rule names a variant of it for these therapies "
                "(derive each gene from a rule)"
            )
        for region in entry.regions:
            known = {e.number for e in gene.exons}
            missing = sorted(set(region.exons) - known)
            if missing:
                problems.append(
                    f"genes: {entry.gene}: region '{region.name}': exons {missing} are not in its exon map"
                )
        for pattern in entry.drug_targets:
            problems += [f"genes: {entry.gene}: drug_targets: {p}" for p in _pattern(catalogue, pattern)]
            if pattern.kind != "variant" or pattern.gene != entry.gene:
                problems.append(f"genes: {entry.gene}: drug_targets: a variant pattern of {entry.gene}")
    return problems
