"""The GuidanceResponse: the implications, withheld countermeasures, regimen exceptions, the
messages about the input and the data that would change the answer."""

from __future__ import annotations

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import Severity
from fhir_resist.engine.model import (
    Assessment,
    DataRequirement,
    Implication,
    Recommendation,
    RegimenException,
)
from fhir_resist.fhir.code_systems import data_requirement_display
from fhir_resist.fhir.write.elements import JSON, drug_concept, instant, rule_url, strategy_coding
from fhir_resist.fhir.write.narrative import guidance_text
from fhir_resist.fhir.write.provenance import sources
from fhir_resist.fhir.write.wording import countermeasure_text


def guidance_response(
    assessment: Assessment, catalogue: Catalogue, evaluation: str, device: str, group_url: str
) -> JSON:
    """The GuidanceResponse of evaluation ``evaluation``, its result the RequestGroup at ``group_url``."""
    reasons = [ref for ref in sources(assessment) if ref.startswith(("Observation/", "DiagnosticReport/"))]
    return {
        "resourceType": "GuidanceResponse",
        "meta": {"profile": [terminology.SD_GUIDANCE]},
        "text": guidance_text(assessment),
        "contained": [_parameters(assessment, catalogue), _outcome(assessment)],
        "identifier": [{"system": terminology.NS_EVALUATION, "value": evaluation}],
        "requestIdentifier": {"system": terminology.NS_EVALUATION, "value": evaluation},
        "moduleCanonical": f"{terminology.PLAN}|{assessment.catalogue_version}",
        "status": assessment.status.value,
        "subject": {"reference": assessment.patient} if assessment.patient else None,
        "occurrenceDateTime": instant(assessment),
        "performer": {"reference": device},
        "reasonReference": [{"reference": r} for r in reasons] or None,
        "evaluationMessage": [{"reference": "#messages"}],
        "outputParameters": {"reference": "#implications"},
        "result": {"reference": group_url},
        "dataRequirement": [_data_requirement(need, catalogue) for need in assessment.data_requirements]
        or None,
    }


def _parameters(assessment: Assessment, catalogue: Catalogue) -> JSON:
    """The contained output Parameters: implications, then withheld countermeasures, then exceptions."""
    return {
        "resourceType": "Parameters",
        "id": "implications",
        "parameter": [_implication_parameter(imp) for imp in assessment.implications]
        + [_withheld_parameter(rec, catalogue) for rec in assessment.withheld]
        + [_exception_parameter(exc, catalogue) for exc in assessment.exceptions]
        or None,
    }


def _implication_parameter(imp: Implication) -> JSON:
    """What the findings mean for a drug or drug class, and the rules and Observations behind it."""
    return {
        "name": "therapy-implication",
        "part": [
            {
                "name": "target",
                "valueCoding": {
                    "system": f"{terminology.BASE}/CodeSystem/drug-{imp.target_kind}",
                    "code": imp.target,
                    "display": imp.name,
                },
            },
            {
                "name": "implication",
                "valueCoding": {"system": terminology.CS_IMPLICATION, "code": imp.effect},
            },
            {
                "name": "evidence-level",
                "valueCoding": {"system": terminology.CS_EVIDENCE, "code": imp.evidence_level},
            },
            *({"name": "rule", "valueUri": rule_url(r)} for r in imp.rule_ids),
            *({"name": "observation", "valueReference": {"reference": o}} for o in imp.observations),
        ],
    }


def _withheld_parameter(rec: Recommendation, catalogue: Catalogue) -> JSON:
    """A countermeasure the patient's facts rule out, and why (never in the RequestGroup)."""
    cm = rec.countermeasure
    return {
        "name": "withheld-countermeasure",
        "part": [
            {"name": "strategy", "valueCoding": strategy_coding(cm.strategy)},
            {"name": "countermeasure", "valueString": countermeasure_text(cm, catalogue)},
            *({"name": "drug", "valueCodeableConcept": drug_concept(d, catalogue)} for d in cm.drugs),
            *({"name": "reason", "valueString": why} for why in rec.why),
            *({"name": "rule", "valueUri": rule_url(r)} for r in rec.rule_ids),
        ],
    }


def _exception_parameter(exc: RegimenException, catalogue: Catalogue) -> JSON:
    """A therapy not alerted because its regimen holds the partner that overcomes the finding."""
    return {
        "name": "regimen-exception",
        "part": [
            {"name": "therapy", "valueReference": {"reference": exc.therapy.source}},
            *({"name": "partner", "valueCodeableConcept": drug_concept(d, catalogue)} for d in exc.partners),
            {"name": "reason", "valueString": exc.reason},
            {"name": "rule", "valueUri": rule_url(exc.finding.rule.id)},
            *({"name": "observation", "valueReference": {"reference": o}} for o in exc.finding.observations),
        ],
    }


def _outcome(assessment: Assessment) -> JSON:
    """The contained OperationOutcome: what in the input was not used or not understood."""
    return {
        "resourceType": "OperationOutcome",
        "id": "messages",
        "issue": [
            {
                "severity": m.severity.value,
                "code": "informational" if m.severity is Severity.INFORMATION else "processing",
                "diagnostics": m.text,
                "expression": [m.where] if m.where else None,
            }
            for m in assessment.messages
        ]
        or [{"severity": "information", "code": "informational", "diagnostics": "all input was understood"}],
    }


def _data_requirement(need: DataRequirement, catalogue: Catalogue) -> JSON:
    """Data that would change the answer, as an Observation code filter with the reason. The code's
    display is its CodeSystem's (the biomarker or setting asked for is named in the reason)."""
    display = data_requirement_display(need.code, catalogue) or need.text
    return {
        "type": "Observation",
        "codeFilter": [
            {
                "path": "code",
                "code": [{"system": terminology.CS_DATA_NEED, "code": need.code, "display": display}],
            }
        ],
        "extension": [
            {
                "url": f"{terminology.BASE}/StructureDefinition/data-requirement-reason",
                "valueString": need.reason,
            }
        ],
    }
