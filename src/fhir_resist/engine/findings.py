"""Findings: the catalogue rules this patient's alterations trigger, and the regimen partners that
spare a drug from a finding's resistance."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import AlterationPattern, Effect, EvidenceLevel, Rule
from fhir_resist.domain import Alteration, Call, GenomicReport, Kind, Message, PatientContext, Severity
from fhir_resist.engine.coverage import covering_negative
from fhir_resist.engine.longitudinal import ADEQUATE_TUMOUR_FRACTION, by_gene, history, sample_date
from fhir_resist.engine.match import Indexed, fits, locus_key
from fhir_resist.engine.model import Finding
from fhir_resist.engine.reversion import REVERSION_WINDOW, Reversion, reversions

FAILS = frozenset({Effect.RESISTANCE, Effect.REDUCED_RESPONSE})  # effects that predict a drug fails
LEVEL_ORDER = {EvidenceLevel.A: 0, EvidenceLevel.B: 1, EvidenceLevel.C: 2, EvidenceLevel.D: 3}


def findings_for(
    context: PatientContext, alterations: tuple[Alteration, ...], tumour: str | None, catalogue: Catalogue
) -> tuple[Finding, ...]:
    """Rules triggered by present alterations; one finding per rule and variant/region, over all samples."""
    present = [a for a in alterations if a.call is Call.PRESENT]
    absent = [a for a in alterations if a.call is Call.ABSENT]
    applicable: dict[str, tuple[tuple[Alteration, ...], bool] | None] = {}
    matched: dict[tuple[str, tuple[object, ...]], list[Alteration]] = {}
    rules: dict[str, Rule] = {}
    reverted: dict[tuple[str, tuple[object, ...]], dict[str, Alteration]] = {}
    indexed = Indexed(present)
    for alt in present:
        keys = [f"{alt.kind}:{alt.gene}" if alt.gene else str(alt.kind)]
        if alt.kind is Kind.FUSION and alt.partner:
            keys.append(f"fusion:{alt.partner}")
        # by id: hashing a frozen pydantic Rule hashes its every field, recursively
        for rule in {r.id: r for k in keys for r in catalogue.rules_for(k)}.values():
            restored = _fitting(rule, alt, present, catalogue)
            if restored is None:
                continue
            if rule.id not in applicable:
                applicable[rule.id] = _applicability(
                    rule, indexed, absent, tumour, catalogue, context.reports
                )
            if applicable[rule.id] is not None:
                rules[rule.id] = rule
                matched.setdefault((rule.id, locus_key(alt)), []).append(alt)
                reverted.setdefault((rule.id, locus_key(alt)), {}).update((a.source, a) for a in restored)
    found: list[Finding] = []
    groups = by_gene(alterations)
    for (rule_id, locus), hits in matched.items():
        scope = applicable[rule_id]
        assert scope is not None
        partners, in_scope = scope
        hits.sort(key=lambda a: (sample_date(a, context)[0] or date.min, a.source))
        trigger = hits[-1]
        found.append(
            Finding(
                rules[rule_id],
                (trigger, *hits[:-1], *partners, *reverted[(rule_id, locus)].values()),
                in_scope,
                tumour,
                history(
                    trigger,
                    groups.get((trigger.kind, trigger.gene), ()),
                    context,
                    catalogue.parameter(ADEQUATE_TUMOUR_FRACTION),
                ),
            )
        )
    return tuple(sorted(found, key=lambda f: (f.rule.id, f.trigger.source)))


def _fitting(
    rule: Rule, alt: Alteration, present: list[Alteration], catalogue: Catalogue
) -> tuple[Alteration, ...] | None:
    """None when no pattern of the rule fits the alteration; else the truncating variants it
    reverts (empty for a pattern without ``reverts``)."""
    gene = catalogue.genes.get(alt.gene or "")
    for pattern in rule.alterations:
        if not fits(pattern, alt, alt.gene, gene):
            continue
        if pattern.reverts is None:
            return ()
        window = catalogue.parameter(REVERSION_WINDOW)
        restored = reversions(pattern.reverts, alt, present, window).get(Reversion.RESTORES)
        if restored:
            return restored
    return None


def _applicability(
    rule: Rule,
    present: Indexed,
    absent: list[Alteration],
    tumour: str | None,
    catalogue: Catalogue,
    reports: tuple[GenomicReport, ...] = (),
) -> tuple[tuple[Alteration, ...], bool] | None:
    """(co-condition alterations, tumour in the evidence's scope), or None when the rule cannot apply."""
    partners = _co_conditions(rule, present, absent, catalogue, reports)
    if partners is None:
        return None
    if tumour is None:
        return (partners, True) if "ANY" in rule.tumours.include else None
    in_scope = catalogue.tumour_in_scope(tumour, rule.tumours.include)
    if not in_scope and rule.tumours.outside == "exclude":
        return None
    return partners, in_scope


def _co_conditions(
    rule: Rule,
    present: Indexed,
    absent: list[Alteration],
    catalogue: Catalogue,
    reports: tuple[GenomicReport, ...] = (),
) -> tuple[Alteration, ...] | None:
    partners: list[Alteration] = []
    for pattern in rule.requires.all_of:
        hit = present.first_fit((pattern,), catalogue.genes)
        if hit is None:
            return None
        partners.append(hit)
    if rule.requires.any_of:
        hit = present.first_fit(rule.requires.any_of, catalogue.genes)
        if hit is None:
            return None
        partners.append(hit)
    for pattern in rule.requires.none_of:
        if present.first_fit((pattern,), catalogue.genes) is not None:
            return None
    for pattern in rule.requires.wild_type_tested:
        if not _tested_wild_type(pattern, list(present.alterations), absent, catalogue, reports):
            return None
    return tuple(partners)


def _tested_wild_type(
    pattern: AlterationPattern,
    present: list[Alteration],
    absent: list[Alteration],
    catalogue: Catalogue,
    reports: tuple[GenomicReport, ...],
) -> bool:
    """Whether the input shows the pattern tested and absent: a variant pattern over its whole
    region (engine/coverage.py), another kind by an Absent result that fits it."""
    if pattern.kind == "variant":
        return covering_negative(pattern, (*present, *absent), reports, catalogue) is not None
    as_present = [replace(a, call=Call.PRESENT) for a in Indexed(absent).candidates((pattern,))]
    return any(fits(pattern, a, a.gene, catalogue.genes.get(a.gene or "")) for a in as_present)


def note_unmatched_variants(
    present: list[Alteration], findings: tuple[Finding, ...], messages: list[Message]
) -> None:
    """A warning for each present variant without a readable change that triggered no rule."""
    used = {a.source for f in findings for a in f.alterations}
    for alt in present:
        if alt.kind is Kind.VARIANT and alt.source not in used and alt.protein is None and alt.codon is None:
            messages.append(
                Message(
                    Severity.WARNING,
                    alt.source,
                    f"{alt.gene or 'variant'}: no usable protein or coding change; "
                    "not matched against position-specific rules",
                )
            )


def spared_by(
    finding: Finding, together: tuple[str, ...], catalogue: Catalogue
) -> tuple[tuple[str, ...], str] | None:
    """The partner drugs in the regimen that make the rule's resistance not apply, and why."""
    trigger = finding.trigger
    gene = catalogue.genes.get(trigger.gene or "")
    for partner in finding.rule.therapies.unless_with:
        wanted = set(partner.drugs) | {d for c in partner.classes for d in catalogue.class_members(c)}
        present = tuple(d for d in together if d in wanted)
        if not present:
            continue
        if partner.only_if and not any(fits(p, trigger, trigger.gene, gene) for p in partner.only_if):
            continue
        return present, partner.reason
    return None
