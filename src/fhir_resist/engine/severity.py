"""The severity of an issue: the rule's evidence level, lowered for weaker or less certain findings."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Effect, EvidenceLevel, Rule, Strategy
from fhir_resist.domain import PatientContext, SpecimenType
from fhir_resist.engine.model import Finding, IssueSeverity

SUBCLONAL_TISSUE_VAF = "subclonal-tissue-vaf"  # catalogue parameter
_SEVERITY_STEPS = (IssueSeverity.HIGH, IssueSeverity.MODERATE, IssueSeverity.LOW)
_BASE_SEVERITY = {EvidenceLevel.A: 0, EvidenceLevel.B: 0, EvidenceLevel.C: 1, EvidenceLevel.D: 2}


def issue_severity(
    finding: Finding, context: PatientContext, catalogue: Catalogue, *, retreatment: bool
) -> IssueSeverity:
    """The finding's severity; low for a ``retreatment`` (the resistance was acquired on an earlier
    course) once the clone has cleared, where the rule's own evidence supports a rechallenge."""
    if retreatment and finding.history.cleared and _rechallenge_supported(finding.rule):
        # The clone may re-emerge, but its finding no longer predicts failure.
        return IssueSeverity.LOW
    return _severity(finding, context, catalogue)


def _rechallenge_supported(rule: Rule) -> bool:
    return any(
        cm.strategy is Strategy.RECHALLENGE and cm.outcome == "recommended" for cm in rule.countermeasures
    )


def _severity(finding: Finding, context: PatientContext, catalogue: Catalogue) -> IssueSeverity:
    """Evidence level, lowered one step each for reduced response, another tumour, subclonality."""
    rule = finding.rule
    step = _BASE_SEVERITY[rule.evidence.level]
    if rule.effect is Effect.REDUCED_RESPONSE:
        step += 1
    if not finding.in_scope:
        step += 1
    trigger = finding.trigger
    specimen = context.specimen(trigger.specimen)
    if (
        trigger.vaf is not None
        and trigger.vaf < catalogue.parameter(SUBCLONAL_TISSUE_VAF)
        and specimen is not None
        and specimen.type is SpecimenType.TISSUE
    ):
        step += 1
    return _SEVERITY_STEPS[min(step, len(_SEVERITY_STEPS) - 1)]
