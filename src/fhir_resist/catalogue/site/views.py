"""What the catalogue site's pages show, as plain values for the templates. Pure: a loaded
catalogue in, frozen values out, in a stable order (the same catalogue gives the same pages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir_resist.catalogue.coverage import biomarker, family_of
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Countermeasure, Reference, Rule
from fhir_resist.catalogue.schema.cases import Case, CaseAlteration

STRATEGIES = {
    "switch": "Switch therapy",
    "combine": "Combine therapies",
    "rechallenge": "Rechallenge",
    "retest": "Retest",
    "clinical-trial": "Clinical trial",
    "monitor": "Monitor",
}
_SELF_NAMED = frozenset({"cnv", "msi", "expression", "consequence"})  # values that say what they are


@dataclass(frozen=True)
class Link:
    """A reference in words, and where it can be read (None: no public address is given)."""

    label: str
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CountermeasureView:
    strategy: str
    what: str
    condition: str | None
    only_if: tuple[str, ...]
    outcome: str
    level: str
    references: tuple[Link, ...]
    note: str | None


@dataclass(frozen=True)
class CaseView:
    name: str
    tumour: str
    drugs: str  # the case's drug, "with" its partners
    prior: str
    alterations: tuple[str, ...]
    absent: tuple[str, ...]
    expect: str
    severity: str
    offers: tuple[str, ...]  # "offered: ...", "conditional: ...", "withheld: ..."
    note: str | None


@dataclass(frozen=True)
class RuleView:
    id: str
    title: str
    family: str
    alterations: tuple[str, ...]
    requires: tuple[tuple[str, tuple[str, ...]], ...]  # ("all of", (...)), ("none of", (...))
    drugs: tuple[str, ...]
    classes: tuple[str, ...]
    except_drugs: tuple[str, ...]
    partners: tuple[str, ...]
    tumours: tuple[tuple[str, str], ...]  # (OncoTree code, name)
    outside: str
    effect: str
    mechanism: str
    timing: tuple[str, ...]
    level: str
    summary: str | None
    references: tuple[Link, ...]
    departs_from_seed: str | None
    caveats: tuple[str, ...]
    countermeasures: tuple[CountermeasureView, ...]
    cases: tuple[CaseView, ...]
    genes: tuple[str, ...]
    covered_drugs: tuple[str, ...]  # every drug the rule applies to, classes expanded, by name


def reference_link(ref: Reference) -> Link:
    """PubMed for a PMID, doi.org for a DOI; a trial, guideline or seed section in words."""
    if ref.pmid:
        return Link(ref.label(), f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/", ref.note)
    if ref.doi:
        return Link(f"doi:{ref.doi}", f"https://doi.org/{ref.doi}", ref.note)
    return Link(ref.label(), None, ref.note)


def rule_view(catalogue: Catalogue, rule: Rule) -> RuleView:
    scope = rule.therapies
    requires = rule.requires
    return RuleView(
        id=rule.id,
        title=rule.title,
        family=family_of(catalogue, rule),
        alterations=tuple(biomarker(p) for p in rule.alterations),
        requires=tuple(
            (words, tuple(biomarker(p) for p in patterns))
            for words, patterns in (
                ("all of", requires.all_of),
                ("at least one of", requires.any_of),
                ("none of", requires.none_of),
                ("tested wild-type", requires.wild_type_tested),
            )
            if patterns
        ),
        drugs=tuple(_drug(catalogue, d) for d in scope.drugs),
        classes=tuple(_class(catalogue, c) for c in scope.classes),
        except_drugs=tuple(_drug(catalogue, d) for d in scope.except_drugs),
        partners=tuple(f"{_names(catalogue, p.drugs, p.classes)}: {p.reason}" for p in scope.unless_with),
        tumours=tuple((code, catalogue.tumour_name(code)) for code in rule.tumours.include),
        outside=rule.tumours.outside,
        effect=rule.effect.value,
        mechanism=rule.mechanism.value,
        timing=tuple(t.value for t in rule.timing),
        level=rule.evidence.level.value,
        summary=rule.evidence.summary,
        references=tuple(reference_link(r) for r in rule.evidence.references),
        departs_from_seed=rule.evidence.departs_from_seed,
        caveats=rule.caveats,
        countermeasures=tuple(_countermeasure(catalogue, cm) for cm in rule.countermeasures),
        cases=tuple(_case(catalogue, case) for case in rule.cases),
        genes=genes_of(rule),
        covered_drugs=tuple(sorted(_drug(catalogue, d) for d in catalogue.members(scope))),
    )


def genes_of(rule: Rule) -> tuple[str, ...]:
    return tuple(sorted({p.gene for p in rule.alterations if p.gene}))


def _countermeasure(catalogue: Catalogue, cm: Countermeasure) -> CountermeasureView:
    what = [_names(catalogue, cm.drugs, cm.classes, joiner=" + " if cm.strategy.value == "combine" else ", ")]
    return CountermeasureView(
        strategy=STRATEGIES.get(cm.strategy.value, cm.strategy.value),
        what="; ".join(filter(None, (*what, *cm.tests))),
        condition=cm.condition,
        only_if=tuple(biomarker(p) for p in cm.only_if),
        outcome=cm.outcome,
        level=cm.evidence.level.value,
        references=tuple(reference_link(r) for r in cm.evidence.references),
        note=cm.note,
    )


def _case(catalogue: Catalogue, case: Case) -> CaseView:
    offers = tuple(
        f"{words}: {', '.join(keys) if keys else 'none'}"
        for words, keys in (
            ("offered", case.offered),
            ("conditional", case.conditional),
            ("withheld", case.withheld),
        )
        if keys is not None
    )
    drugs = _drug(catalogue, case.drug)
    if case.with_:
        drugs += " with " + ", ".join(_drug(catalogue, d) for d in case.with_)
    return CaseView(
        name=case.name,
        tumour=f"{catalogue.tumour_name(case.tumour)} ({case.tumour})",
        drugs=drugs,
        prior=", ".join(_drug(catalogue, d) for d in case.prior),
        alterations=tuple(case_alteration(a) for a in case.alterations),
        absent=tuple(case_alteration(a) for a in case.absent),
        expect=case.expect,
        severity=case.severity or "",
        offers=offers,
        note=case.note,
    )


def case_alteration(alteration: CaseAlteration) -> str:
    """A case's alteration in a few words: ``KRAS p.G12D vaf 0.31``, ``MET amplification``."""
    data: dict[str, Any] = alteration.model_dump(exclude_defaults=True, exclude={"kind", "gene", "origin"})
    parts = [alteration.gene or alteration.kind.upper()]
    for key, value in data.items():
        if key == "protein":
            parts.append(f"p.{str(value).removeprefix('p.')}")
        elif key in _SELF_NAMED:
            parts.append(str(value))
        else:
            parts.append(f"{key.replace('_', ' ')} {value}")
    if alteration.origin != "somatic":
        parts.append(f"({alteration.origin})")
    return " ".join(parts)


def _drug(catalogue: Catalogue, drug_id: str) -> str:
    drug = catalogue.drugs.get(drug_id)
    return drug.name if drug else drug_id


def _class(catalogue: Catalogue, class_id: str) -> str:
    found = catalogue.classes.get(class_id)
    return found.name if found else class_id


def _names(catalogue: Catalogue, drugs: tuple[str, ...], classes: tuple[str, ...], joiner: str = ", ") -> str:
    return joiner.join([*(_drug(catalogue, d) for d in drugs), *(_class(catalogue, c) for c in classes)])
