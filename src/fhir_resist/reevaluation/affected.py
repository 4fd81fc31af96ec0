"""After a catalogue change, the patients whose result it may change.

A rule changed when it was added, removed, or its content differs (any field: patterns, scope,
evidence, countermeasures, wording). What a rule reads (``RuleReach``): the genes its patterns
name (the alterations that trigger it, those it requires or excludes, those a countermeasure
depends on; a gene-less pattern by its kind, ``msi``, ``tmb``), the drugs of its therapy scope
(in the catalogue that holds it; in both when it was edited), and the tumours it is about.

A patient is affected by a changed rule when (a) one of their alterations, present or tested
negative, is in a gene (or of a kind) the rule reads: the rule may now find, or no longer find,
something in them (an issue, an implication, a data requirement for an unreadable variant, an
uncertain-significance issue), whatever they take; or (b) the rule is an expression rule (its
test is rarely on a genomic report, so where it is missing the rule asks for it), one of their
therapies is a drug the rule covers and one of their cancers is in the rule's tumours; or (c)
their previous result cites the rule. A patient none of these holds for reads nothing the change
touches, and their result is the same with either catalogue. A change anywhere else (genes,
drugs, tumours, requirements, resistance genes, parameters, reading rules) affects everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.catalogue.schema import AlterationPattern, Rule


@dataclass(frozen=True, slots=True)
class RuleReach:
    rule: str
    keys: frozenset[str]  # "gene:KRAS", "kind:msi"
    drugs: frozenset[str]
    tumours: tuple[str, ...]
    requests_test: bool  # an expression rule: where its test is missing it asks for it


@dataclass(frozen=True, slots=True)
class CatalogueChange:
    """The rules that differ between two catalogues, and what each reads."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    edited: tuple[str, ...]
    reach: tuple[RuleReach, ...]
    others: tuple[str, ...] = ()  # what else differs (genes, drugs, ...): every patient is affected

    @property
    def rules(self) -> frozenset[str]:
        return frozenset((*self.added, *self.removed, *self.edited))


def catalogue_change(before: Catalogue, after: Catalogue) -> CatalogueChange:
    old = {rule.id: rule for rule in before.rules}
    new = {rule.id: rule for rule in after.rules}
    added = tuple(sorted(new.keys() - old.keys()))
    removed = tuple(sorted(old.keys() - new.keys()))
    edited = tuple(sorted(k for k in old.keys() & new.keys() if old[k] != new[k]))
    reach = [_reach(old[k], before) for k in (*removed, *edited)]
    reach += [_reach(new[k], after) for k in (*added, *edited)]
    return CatalogueChange(added, removed, edited, tuple(reach), _others(before, after))


def _others(before: Catalogue, after: Catalogue) -> tuple[str, ...]:
    """The parts besides the rules that differ: any of them may change any patient's result."""
    parts = {
        "genes": (dict(before.genes), dict(after.genes)),
        "drugs": (dict(before.drugs), dict(after.drugs)),
        "drug classes": (dict(before.classes), dict(after.classes)),
        "tumours": (dict(before.tumours), dict(after.tumours)),
        "requirements": (before.requirements, after.requirements),
        "resistance genes": (before.resistance_genes, after.resistance_genes),
        "parameters": (before.meta.parameters, after.meta.parameters),
        "reading rules": (before.reading, after.reading),
    }
    return tuple(name for name, (old, new) in parts.items() if old != new)


def _reach(rule: Rule, catalogue: Catalogue) -> RuleReach:
    patterns: list[AlterationPattern] = [
        *rule.alterations,
        *rule.requires.all_of,
        *rule.requires.none_of,
        *rule.requires.wild_type_tested,
        *(p for cm in rule.countermeasures for p in cm.only_if),
    ]
    keys = {key for pattern in patterns for key in _pattern_keys(pattern)}
    return RuleReach(
        rule.id,
        frozenset(keys),
        catalogue.members(rule.therapies),
        tuple(rule.tumours.include),
        any(pattern.kind == "expression" for pattern in rule.alterations),
    )


def _pattern_keys(pattern: AlterationPattern) -> Iterable[str]:
    genes = [g for g in (pattern.gene, pattern.partner) if g]
    return [f"gene:{g.upper()}" for g in genes] if genes else [f"kind:{pattern.kind}"]


@dataclass(frozen=True, slots=True)
class PatientReach:
    """What of the catalogue a patient's record reads: gene / kind keys, drugs, cancer types."""

    keys: frozenset[str]
    drugs: frozenset[str]
    tumours: frozenset[str]


def patient_reach(patient: str, resources: Sequence[Mapping[str, Any]], catalogue: Catalogue) -> PatientReach:
    """Read as the evaluation reads the record (the reader, genes resolved as the engine does)."""
    from fhir_resist.engine.context import resolve_gene
    from fhir_resist.fhir.read import read_context

    context = read_context(resources, patient=patient, rules=catalogue.reading)
    keys: set[str] = set()
    for alteration in context.alterations:
        resolved = resolve_gene(alteration, catalogue)
        genes = [g for g in (resolved.gene, resolved.partner) if g]
        if genes:
            keys.update(f"gene:{g.upper()}" for g in genes)
        else:
            keys.add(f"kind:{resolved.kind.value}")
    drugs = {d for t in context.therapies for d in catalogue.resolve_drugs(t.codings, t.text)}
    tumours = {code for t in context.tumours if (code := catalogue.resolve_tumour(t.codings))}
    return PatientReach(frozenset(keys), frozenset(drugs), frozenset(tumours))


def affected_by(
    reach: PatientReach, change: CatalogueChange, catalogue: Catalogue, cited: Iterable[str] = ()
) -> tuple[str, ...]:
    """What of the change touches the patient: the changed rules, or the other parts that
    changed (empty: the patient is not affected)."""
    touched = {rule for rule in cited if rule in change.rules}
    for rule in change.reach:
        if reach.keys & rule.keys or (
            rule.requests_test
            and reach.drugs & rule.drugs
            and any(catalogue.tumour_in_scope(code, rule.tumours) for code in reach.tumours)
        ):
            touched.add(rule.rule)
    return (*change.others, *sorted(touched))
