"""Data requirements: the tests whose results would change the answer (catalogue-driven)."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import AlterationPattern, Effect, EvidenceLevel, Rule, TestedPattern
from fhir_resist.domain import Alteration, Call, GenomicReport, Therapy
from fhir_resist.engine.coverage import covered, missing_regions, stated_for
from fhir_resist.engine.doses import THERAPY_DOSE, THERAPY_DOSE_DEFINITION, THERAPY_DOSE_DISPLAY, dose_needs
from fhir_resist.engine.match import Indexed, fits
from fhir_resist.engine.model import DataRequirement, Finding
from fhir_resist.engine.reversion import REVERSION_WINDOW, Reversion, reversions

# Expression-only rules (IHC, RNA, methylation) at these levels ask for their test.
EXPRESSION_REQUIREMENT_LEVELS = frozenset({EvidenceLevel.A, EvidenceLevel.B, EvidenceLevel.C})

TUMOUR_TYPE = "tumour-type"
CTDNA_TUMOUR_FRACTION = "ctdna-tumour-fraction"
CTDNA_BEFORE_RECHALLENGE = "ctdna-before-rechallenge"
UNINTERPRETABLE_VARIANT = "interpretable-variant"
REVERSION_STATUS = "reversion-status"
# Requirements the engine raises itself (not from catalogue/requirements.yaml): code -> definition.
ENGINE_REQUIREMENTS = {
    TUMOUR_TYPE: "A Condition coded with a cancer type the catalogue knows.",
    UNINTERPRETABLE_VARIANT: "A readable protein or coding change for a variant in a gene the catalogue "
    "has position-specific rules for: without it the variant's effect is undetermined.",
    CTDNA_BEFORE_RECHALLENGE: "A ctDNA test taken after the drug was stopped, before a rechallenge: the "
    "resistance alterations must be shown to have cleared.",
    CTDNA_TUMOUR_FRACTION: "Tumour fraction of a negative plasma (ctDNA) sample, or a tissue retest: a "
    "negative ctDNA result at low or unknown tumour fraction does not prove a variant is gone.",
    REVERSION_STATUS: "The coding (c.) changes of a truncating variant and of a second variant in the same "
    "gene, or the laboratory's call whether the second restores the reading frame (a reversion): "
    "without them the reversion is undetermined.",
    THERAPY_DOSE: THERAPY_DOSE_DEFINITION,
}
# What each of them asks for, in words: the display of the code in the data-requirement CodeSystem
# and the text of every DataRequirement the engine raises with it.
ENGINE_REQUIREMENT_DISPLAYS = {
    TUMOUR_TYPE: "Cancer type (a Condition coded in SNOMED CT, ICD-10-CM, NCIt or OncoTree)",
    UNINTERPRETABLE_VARIANT: "The protein or coding change of the variants named",
    CTDNA_BEFORE_RECHALLENGE: "ctDNA (RAS, BRAF V600E, EGFR extracellular domain) before any rechallenge",
    CTDNA_TUMOUR_FRACTION: "Tumour fraction of the latest plasma sample, or a tissue retest",
    REVERSION_STATUS: "Whether a second variant restores the frame of a truncating variant (reversion)",
    THERAPY_DOSE: THERAPY_DOSE_DISPLAY,
}


def data_requirements(
    catalogue: Catalogue,
    tumour: str | None,
    alterations: tuple[Alteration, ...],
    therapies: tuple[tuple[Therapy, tuple[str, ...]], ...],
    findings: tuple[Finding, ...] = (),
    acquired_on: frozenset[str] = frozenset(),
    reports: tuple[GenomicReport, ...] = (),
) -> tuple[DataRequirement, ...]:
    """Tests that would change the answer; ``acquired_on``: drugs the patient acquired resistance to;
    ``reports``: what each report says it studied (a negative counts only for that)."""
    needs = [*_unreadable_variants(catalogue, alterations), *_unconfirmed_negatives(findings)]
    if tumour is None:
        needs.append(
            DataRequirement(
                TUMOUR_TYPE,
                ENGINE_REQUIREMENT_DISPLAYS[TUMOUR_TYPE],
                "no cancer diagnosis the catalogue recognises; tumour-specific rules were not applied",
            )
        )
        return tuple(needs)
    taking = {drug for _, drugs in therapies for drug in drugs}
    needs += _expression_needs(catalogue, tumour, alterations, taking)
    needs += _reversion_needs(catalogue, tumour, alterations, taking, findings)
    needs += _catalogue_needs(catalogue, tumour, alterations, taking, acquired_on, reports)
    needs += dose_needs(findings, therapies, catalogue)
    return tuple(needs)


def _unreadable_variants(catalogue: Catalogue, alterations: tuple[Alteration, ...]) -> list[DataRequirement]:
    """Present variants whose change could not be read, in genes with position-specific rules."""
    unreadable = sorted(
        a.source
        for a in alterations
        if a.kind == "variant"
        and a.call == "present"
        and a.protein is None
        and a.codon is None
        and a.gene is not None
        and catalogue.rules_for(f"variant:{a.gene}")
    )
    if not unreadable:
        return []
    return [
        DataRequirement(
            UNINTERPRETABLE_VARIANT,
            ENGINE_REQUIREMENT_DISPLAYS[UNINTERPRETABLE_VARIANT],
            f"{', '.join(unreadable)}: the change could not be read, so its effect on therapy is "
            "undetermined (the lab report should be checked)",
        )
    ]


def _unconfirmed_negatives(findings: tuple[Finding, ...]) -> list[DataRequirement]:
    """Findings last not detected in plasma whose tumour fraction is unknown or too low to prove it."""
    unconfirmed = sorted({f.trigger.label for f in findings if f.history.unconfirmed_negative})
    if not unconfirmed:
        return []
    return [
        DataRequirement(
            CTDNA_TUMOUR_FRACTION,
            ENGINE_REQUIREMENT_DISPLAYS[CTDNA_TUMOUR_FRACTION],
            f"{', '.join(unconfirmed)} not detected in the latest plasma sample, whose tumour fraction "
            "is unknown or low: that is not proof the variant is gone",
        )
    ]


def _catalogue_needs(
    catalogue: Catalogue,
    tumour: str,
    alterations: tuple[Alteration, ...],
    taking: set[str],
    acquired_on: frozenset[str],
    reports: tuple[GenomicReport, ...],
) -> list[DataRequirement]:
    """The catalogue's requirements (requirements.yaml) that apply and have no result in the input,
    or whose negatives do not cover the exons / codons the requirement names."""
    needs = []
    for requirement in catalogue.requirements:
        if not catalogue.tumour_in_scope(tumour, requirement.tumours):
            continue
        if requirement.therapies is not None and not (taking & catalogue.members(requirement.therapies)):
            continue
        if requirement.after_acquired_resistance and not (
            requirement.therapies is not None and acquired_on & catalogue.members(requirement.therapies)
        ):
            continue
        missing = [
            t.gene or t.kind.upper()
            for t in requirement.tested
            if not any(a.kind == t.kind and (t.gene is None or a.gene == t.gene) for a in alterations)
            and not (t.kind == "variant" and t.gene and stated_for(t.gene, reports, catalogue))
        ]
        reasons = [f"no result for {', '.join(missing)} in the input"] if missing else []
        reasons += _uncovered(requirement.tested, missing, alterations, reports, catalogue)
        if reasons:
            needs.append(DataRequirement(requirement.id, requirement.title, "; ".join(reasons)))
    return needs


def _uncovered(
    tested: tuple[TestedPattern, ...],
    missing: list[str],
    alterations: tuple[Alteration, ...],
    reports: tuple[GenomicReport, ...],
    catalogue: Catalogue,
) -> list[str]:
    """Why the negatives of genes that were tested do not cover the regions the requirement names:
    ``KRAS exons 3 and 4, NRAS exons 2-4 not covered``. A present variant in the gene answers it."""
    lost: list[str] = []
    unscoped: list[str] = []
    for t in tested:
        if t.gene is None or not (t.exons or t.codons) or t.gene in missing:
            continue
        if any(a.call is Call.PRESENT and a.kind == "variant" and a.gene == t.gene for a in alterations):
            continue
        found = covered(t.gene, alterations, reports, catalogue)
        gap = missing_regions(t.gene, t.exons, t.codons, found, catalogue)
        if gap is not None:
            lost.append(gap)
            unscoped += found.unscoped
    if not lost:
        return []
    out = f"{', '.join(lost)} not covered by the negative results"
    if unscoped:
        out += f" (no region studied is stated for {', '.join(sorted(set(unscoped)))})"
    return [out]


def expression_rules(catalogue: Catalogue) -> tuple[Rule, ...]:
    """Rules that only an expression test (IHC, RNA, methylation) can trigger, and that ask for it."""
    return tuple(
        rule
        for rule in catalogue.rules
        if all(p.kind == "expression" for p in rule.alterations)
        and rule.effect in {Effect.RESISTANCE, Effect.REDUCED_RESPONSE}
        and rule.evidence.level in EXPRESSION_REQUIREMENT_LEVELS
    )


def expression_requirement_display(rule: Rule) -> str:
    """What an expression-only rule asks for: 'AREG, EREG expression (<the rule's title>)'."""
    genes = sorted({p.gene for p in rule.alterations if p.gene})
    return f"{', '.join(genes)} expression ({rule.title})"


def _expression_needs(
    catalogue: Catalogue, tumour: str, alterations: tuple[Alteration, ...], taking: set[str]
) -> list[DataRequirement]:
    """A genomic report rarely carries protein or RNA levels: such rules become requests for the test."""
    needs = []
    present = Indexed(a for a in alterations if a.call is Call.PRESENT)
    for rule in expression_rules(catalogue):
        if not catalogue.tumour_in_scope(tumour, rule.tumours.include):
            continue
        drugs = sorted(taking & catalogue.members(rule.therapies))
        genes = sorted({p.gene for p in rule.alterations if p.gene})
        tested = any(a.kind == "expression" and a.gene in genes for a in alterations)
        if drugs and not tested and _co_conditions_possible(rule, present, catalogue):
            needs.append(
                DataRequirement(
                    rule.id,
                    expression_requirement_display(rule),
                    f"would refine the outlook for {', '.join(drugs)} "
                    f"(evidence {rule.evidence.level.value}); not reported in the input",
                )
            )
    return needs


def _co_conditions_possible(rule: Rule, present: Indexed, catalogue: Catalogue) -> bool:
    """Whether the rule could still apply once the expression test is done (its other conditions
    hold among the ``present`` alterations)."""

    def found(pattern: AlterationPattern) -> bool:
        return present.first_fit((pattern,), catalogue.genes) is not None

    if any(found(p) for p in rule.requires.none_of):
        return False
    return all(found(p) for p in rule.requires.all_of if p.kind != "expression")


def _reversion_needs(
    catalogue: Catalogue,
    tumour: str,
    alterations: tuple[Alteration, ...],
    taking: set[str],
    findings: tuple[Finding, ...],
) -> list[DataRequirement]:
    """Second variants whose effect on a truncating variant's reading frame the report cannot tell,
    for reversion rules about a drug the patient takes (unless the rule found a reversion in them)."""
    present = [a for a in alterations if a.call is Call.PRESENT]
    found = {(f.rule.id, f.trigger.source) for f in findings}
    reasons: list[str] = []
    for rule in catalogue.rules:
        # only variants of the genes the rule's reversion patterns name can be second variants
        genes = {p.gene for p in rule.alterations if p.reverts is not None}
        if not genes:
            continue
        drugs = sorted(taking & catalogue.members(rule.therapies))
        if not drugs or not catalogue.tumour_in_scope(tumour, rule.tumours.include):
            continue
        for second in (a for a in present if a.gene in genes):
            if (rule.id, second.source) not in found:
                reasons += [
                    f"{second.label or second.source} and the truncating "
                    f"{original.label or original.source}: whether the second restores the reading "
                    f"frame cannot be told ({', '.join(drugs)})"
                    for original in _undetermined(rule, second, present, catalogue)
                ]
    if not reasons:
        return []
    display = ENGINE_REQUIREMENT_DISPLAYS[REVERSION_STATUS]
    return [DataRequirement(REVERSION_STATUS, display, "; ".join(dict.fromkeys(reasons)))]


def _undetermined(
    rule: Rule, second: Alteration, present: list[Alteration], catalogue: Catalogue
) -> tuple[Alteration, ...]:
    """The truncating variants whose reading frame ``second`` may restore, by the rule's patterns."""
    gene = catalogue.genes.get(second.gene or "")
    window = catalogue.parameter(REVERSION_WINDOW)
    return tuple(
        original
        for p in rule.alterations
        if p.reverts is not None and fits(p, second, second.gene, gene)
        for original in reversions(p.reverts, second, present, window).get(Reversion.UNDETERMINED, ())
    )
