"""One DetectedIssue per resistance alert: the finding, its mechanism and timing, what to do."""

from __future__ import annotations

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.engine.model import UNCERTAIN_RESISTANCE, Assessment, Issue, UncertainIssue
from fhir_resist.fhir.write.elements import JSON, instant, rule_url, strategy_coding
from fhir_resist.fhir.write.narrative import issue_text, uncertain_text
from fhir_resist.fhir.write.wording import countermeasure_text


def detected_issue(issue: Issue, assessment: Assessment, catalogue: Catalogue, device: str) -> JSON:
    """The DetectedIssue of one alert, authored by ``device`` (a fullUrl in the same transaction)."""
    finding = issue.finding
    rule = finding.rule
    preliminary = assessment.preliminary or any(a.preliminary for a in finding.alterations)
    code = rule.effect.value
    return {
        **_common(
            assessment,
            device,
            rule_id=rule.id,
            level=rule.evidence.level.value,
            identifier=issue.identifier,
            preliminary=preliminary,
            code=code,
            text=f"Targeted therapy {code.replace('-', ' ')}",
            severity=issue.severity.value,
            implicated=(issue.therapy.source, *finding.observations),
            narrative=issue_text(issue, catalogue),
        ),
        "evidence": [_evidence(issue)],
        "detail": issue.detail,
        "reference": rule_url(rule.id),
        "mitigation": [
            {
                "action": {
                    "coding": [strategy_coding(rec.countermeasure.strategy)],
                    "text": countermeasure_text(rec.countermeasure, catalogue),
                }
            }
            for rec in issue.countermeasures
        ],
    }


def _common(
    assessment: Assessment,
    device: str,
    *,
    rule_id: str,
    level: str,
    identifier: str,
    preliminary: bool,
    code: str,
    text: str,
    severity: str,
    implicated: tuple[str, ...],
    narrative: JSON,
) -> JSON:
    """What every DetectedIssue states: its rule and evidence level, identifier and status, its
    implication code, text and severity, the patient, when and by whom, what it implicates
    (the therapy first, then the Observations), and its narrative."""
    return {
        "resourceType": "DetectedIssue",
        "meta": {"profile": [terminology.SD_DETECTED_ISSUE]},
        "text": narrative,
        "extension": _extensions(rule_id, assessment.catalogue_version, level),
        "identifier": [{"system": terminology.NS_FINDING, "value": identifier}],
        "status": "preliminary" if preliminary else "final",
        "code": {"coding": [{"system": terminology.CS_IMPLICATION, "code": code}], "text": text},
        "severity": severity,
        "patient": {"reference": assessment.patient} if assessment.patient else None,
        "identifiedDateTime": instant(assessment),
        "author": {"reference": device},
        "implicated": [{"reference": ref} for ref in implicated],
    }


def _extensions(rule_id: str, version: str, level: str) -> list[JSON]:
    return [
        {"url": terminology.EXT_RULE, "valueString": rule_id},
        {"url": terminology.EXT_CATALOGUE_VERSION, "valueString": version},
        {
            "url": terminology.EXT_EVIDENCE_LEVEL,
            "valueCoding": {"system": terminology.CS_EVIDENCE, "code": level},
        },
    ]


def _evidence(issue: Issue) -> JSON:
    """The mechanism and timing of the finding, resting on its Observations."""
    finding = issue.finding
    mechanism = finding.rule.mechanism.value
    return {
        "code": [
            {
                "coding": [
                    {"system": terminology.CS_MECHANISM, "code": mechanism},
                    {"system": terminology.CS_TIMING, "code": issue.timing.value},
                ],
                "text": f"{mechanism} mechanism, {issue.timing.value}: {issue.timing_reason}",
            }
        ],
        "detail": [{"reference": obs} for obs in finding.observations],
    }


def uncertain_issue(issue: UncertainIssue, assessment: Assessment, device: str) -> JSON:
    """The DetectedIssue of a new uncatalogued variant in a resistance gene: code
    ``uncertain-resistance``, severity low, the gene set as ``rule-id``, and no mitigation."""
    gene_set = issue.gene_sets[0]
    preliminary = assessment.preliminary or issue.alteration.preliminary
    text = "Uncertain resistance significance: new uncatalogued variant, expert review"
    return {
        **_common(
            assessment,
            device,
            rule_id=gene_set.id,
            level=gene_set.evidence.level.value,
            identifier=issue.identifier,
            preliminary=preliminary,
            code=UNCERTAIN_RESISTANCE,
            text=text,
            severity=issue.severity.value,
            implicated=(issue.therapy.source, *issue.observations),
            narrative=uncertain_text(issue),
        ),
        "evidence": [
            {
                "code": [
                    {
                        "coding": [
                            {"system": terminology.CS_MECHANISM, "code": issue.mechanism.value},
                            {"system": terminology.CS_TIMING, "code": issue.timing.value},
                        ],
                        "text": f"gene tied to {issue.mechanism.value} resistance; "
                        f"{issue.timing.value}: {issue.timing_reason}",
                    }
                ],
                "detail": [{"reference": obs} for obs in issue.observations],
            }
        ],
        "detail": issue.detail,
        "reference": f"{terminology.RESISTANCE_GENES_URL}/{gene_set.id}",
    }
