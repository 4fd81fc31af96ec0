"""Build the output transaction Bundle (ARCHITECTURE.md section 4) from an Assessment.

Pure: no I/O. Every resource is validated with fhir.resources before it is returned.
Identifiers are deterministic, so the transaction is idempotent on the server, by one of two
strategies (README, "Writing back"):

- ``put`` (default): every resource gets a client-assigned id derived from its identifier and
  is written with ``PUT Type/id``. A re-run, or two evaluations of the same report racing
  each other, address the same ids: no duplicates, whatever the server's concurrency.
- ``conditional``: ``POST`` with ``If-None-Exist`` on our identifier, for servers that refuse
  client-assigned ids. HAPI's conditional create can race (two concurrent creates both
  succeed), so delivery serialises writes per patient (``fhir.deliver``).

Either way references between the new resources use ``urn:uuid`` fullUrls (UUIDv5 of the
identifiers), which the server rewrites to the ids it keeps.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Literal

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Countermeasure, Reference
from fhir_resist.catalogue.schema import Strategy as CountermeasureStrategy
from fhir_resist.domain import Severity
from fhir_resist.engine.explain import drug_names
from fhir_resist.engine.model import Assessment, Issue, Offer, Recommendation, RegimenException
from fhir_resist.fhir.r4 import validated
from fhir_resist.version import VERSION

JSON = dict[str, Any]
# How each entry is made idempotent on the server: PUT to a client-assigned id, or a conditional
# create (If-None-Exist on the identifier) for servers that refuse client ids.
WriteStrategy = Literal["put", "conditional"]
WRITE_STRATEGIES: tuple[WriteStrategy, ...] = ("put", "conditional")

_STRATEGY_DISPLAY: dict[CountermeasureStrategy, str] = {
    CountermeasureStrategy.SWITCH: "Switch therapy",
    CountermeasureStrategy.COMBINE: "Combine therapies",
    CountermeasureStrategy.RECHALLENGE: "Rechallenge",
    CountermeasureStrategy.RETEST: "Retest",
    CountermeasureStrategy.CLINICAL_TRIAL: "Clinical trial",
    CountermeasureStrategy.MONITOR: "Monitor",
}


def to_bundle(assessment: Assessment, *, strategy: WriteStrategy = "put") -> JSON:
    """The transaction Bundle: Device, DetectedIssues, RequestGroup, GuidanceResponse, Provenance."""
    if strategy not in WRITE_STRATEGIES:
        raise ValueError(
            f"unknown write strategy {strategy!r}; expected one of {', '.join(WRITE_STRATEGIES)}"
        )
    catalogue = assessment.catalogue
    at = assessment.at.isoformat()
    evaluation = evaluation_id(assessment)
    device_id = f"fhir-resist-{VERSION}"
    device_url = _urn(terminology.NS_DEVICE, device_id)
    entries: list[JSON] = [
        _entry(device_url, _device(device_id), terminology.NS_DEVICE, device_id, strategy),
    ]

    issue_urls: list[str] = []
    for issue in assessment.issues:
        url = _urn(terminology.NS_FINDING, issue.identifier)
        issue_urls.append(url)
        entries.append(
            _entry(
                url,
                _detected_issue(issue, assessment, catalogue, device_url),
                terminology.NS_FINDING,
                issue.identifier,
                strategy,
            )
        )

    group_id = f"{evaluation}-countermeasures"
    group_url = _urn(terminology.NS_EVALUATION, group_id)
    entries.append(
        _entry(
            group_url,
            _request_group(assessment, catalogue, group_id, device_url),
            terminology.NS_EVALUATION,
            group_id,
            strategy,
        )
    )

    guidance_url = _urn(terminology.NS_EVALUATION, evaluation)
    entries.append(
        _entry(
            guidance_url,
            _guidance(assessment, catalogue, evaluation, device_url, group_url),
            terminology.NS_EVALUATION,
            evaluation,
            strategy,
        )
    )

    provenance_id = f"{evaluation}-provenance"
    provenance = {
        "resourceType": "Provenance",
        # R4 Provenance has no identifier: the tag carries ours, for conditional creates.
        "meta": {"tag": [{"system": terminology.NS_EVALUATION, "code": provenance_id}]},
        "target": [{"reference": u} for u in (guidance_url, group_url, *issue_urls)],
        "recorded": at if assessment.at.tzinfo else at + "Z",
        "policy": [f"{terminology.PLAN}|{assessment.catalogue_version}"],
        "agent": [{"who": {"reference": device_url}}],
        "entity": [{"role": "source", "what": {"reference": ref}} for ref in sources(assessment)],
    }
    entries.append(
        _entry(
            _urn(terminology.NS_EVALUATION, provenance_id),
            provenance,
            terminology.NS_EVALUATION,
            provenance_id,
            strategy,
            search="_tag",
        )
    )

    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    return validated(bundle)


def sources(assessment: Assessment) -> list[str]:
    """The inputs an output names as its sources, in input order.

    A report stands for its results: an Observation that came as a result of an input
    DiagnosticReport is named only when a finding rests on it (a 5,000-variant panel is one
    report, not 5,000 references). Every other input is named.
    """
    rested = {obs for finding in assessment.findings for obs in finding.observations}
    return [
        ref
        for ref in assessment.inputs
        if not ref.startswith("Observation/") or ref not in assessment.report_results or ref in rested
    ]


def evaluation_id(assessment: Assessment) -> str:
    """Deterministic: the same patient, inputs, catalogue version and conclusions give the same id."""
    parts = [
        assessment.patient or "",
        assessment.catalogue_version,
        *sorted(assessment.inputs),
        *sorted(i.identifier for i in assessment.issues),
        *sorted(f"{i.target}:{i.effect}" for i in assessment.implications),
        *sorted(d.code for d in assessment.data_requirements),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _urn(system: str, value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


def resource_id(system: str, value: str) -> str:
    """The client-assigned id of the resource carrying identifier ``system|value``.

    Non-numeric (HAPI refuses all-digit client ids), 43 characters of [a-z0-9-] (FHIR ids
    allow 64), and stable across releases: it is how a re-run finds what it wrote before.
    """
    return "fr-" + hashlib.sha256(f"{system}|{value}".encode()).hexdigest()[:40]


def _entry(
    full_url: str,
    resource: JSON,
    system: str,
    value: str,
    strategy: WriteStrategy,
    *,
    search: str = "identifier",
) -> JSON:
    rtype = resource["resourceType"]
    if strategy == "put":
        rid = resource_id(system, value)
        rest = {k: v for k, v in resource.items() if k != "resourceType"}
        resource = {"resourceType": rtype, "id": rid, **rest}
        request: JSON = {"method": "PUT", "url": f"{rtype}/{rid}"}
    else:
        request = {"method": "POST", "url": rtype, "ifNoneExist": f"{search}={system}|{value}"}
    return {"fullUrl": full_url, "resource": resource, "request": request}  # validated with the Bundle


def _device(device_id: str) -> JSON:
    return {
        "resourceType": "Device",
        "identifier": [{"system": terminology.NS_DEVICE, "value": device_id}],
        "status": "active",
        "manufacturer": "fhir_resist",
        "deviceName": [{"name": "fhir_resist", "type": "manufacturer-name"}],
        "version": [{"value": VERSION}],
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


def rule_url(rule_id: str) -> str:
    return f"{terminology.RULE_URL}/{rule_id}"


def _detected_issue(issue: Issue, assessment: Assessment, catalogue: Catalogue, device: str) -> JSON:
    finding = issue.finding
    rule = finding.rule
    preliminary = assessment.preliminary or any(a.preliminary for a in finding.alterations)
    return {
        "resourceType": "DetectedIssue",
        "meta": {"profile": [terminology.SD_DETECTED_ISSUE]},
        "extension": _extensions(rule.id, assessment.catalogue_version, rule.evidence.level.value),
        "identifier": [{"system": terminology.NS_FINDING, "value": issue.identifier}],
        "status": "preliminary" if preliminary else "final",
        "code": {
            "coding": [{"system": terminology.CS_IMPLICATION, "code": rule.effect.value}],
            "text": f"Targeted therapy {rule.effect.value.replace('-', ' ')}",
        },
        "severity": issue.severity.value,
        "patient": {"reference": assessment.patient} if assessment.patient else None,
        "identifiedDateTime": _instant(assessment),
        "author": {"reference": device},
        "implicated": [
            {"reference": issue.therapy.source},
            *({"reference": obs} for obs in finding.observations),
        ],
        "evidence": [
            {
                "code": [
                    {
                        "coding": [
                            {"system": terminology.CS_MECHANISM, "code": rule.mechanism.value},
                            {"system": terminology.CS_TIMING, "code": issue.timing.value},
                        ],
                        "text": f"{rule.mechanism.value} mechanism, {issue.timing.value}: "
                        f"{issue.timing_reason}",
                    }
                ],
                "detail": [{"reference": obs} for obs in finding.observations],
            }
        ],
        "detail": issue.detail,
        "reference": rule_url(rule.id),
        "mitigation": [
            {
                "action": {
                    "coding": [
                        {
                            "system": terminology.CS_COUNTERMEASURE,
                            "code": rec.countermeasure.strategy.value,
                            "display": _STRATEGY_DISPLAY[rec.countermeasure.strategy],
                        }
                    ],
                    "text": countermeasure_text(rec.countermeasure, catalogue),
                }
            }
            for rec in issue.countermeasures
        ],
    }


def countermeasure_text(cm: Countermeasure, catalogue: Catalogue) -> str:
    """'switch: bevacizumab (with fluoropyrimidine chemotherapy) [level A; CALGB/SWOG 80405]'."""
    what: list[str] = []
    if cm.drugs:
        joiner = " + " if cm.strategy is CountermeasureStrategy.COMBINE else ", "
        what.append(joiner.join(catalogue.drugs[d].name for d in cm.drugs))
    what += [catalogue.classes[c].name for c in cm.classes]
    what += list(cm.tests)
    if not what:  # e.g. a clinical trial described only by its condition or note
        what = [cm.condition or cm.note or cm.strategy.value]
    elif cm.condition:
        what[-1] += f" ({cm.condition})"
    text = f"{cm.strategy.value}: {'; '.join(what)}"
    refs = ", ".join(r.label() for r in cm.evidence.references[:3])
    text += f" [evidence {cm.evidence.level.value}{'; ' + refs if refs else ''}]"
    if cm.note and what:
        text += f". {cm.note}"
    return text


def offer_text(rec: Recommendation, catalogue: Catalogue) -> str:
    """The countermeasure's text, with what must still hold when it is conditional."""
    text = countermeasure_text(rec.countermeasure, catalogue)
    if rec.offer is Offer.CONDITIONAL:
        return f"CONDITIONAL {text} - only if: {'; '.join(rec.why)}"
    return text


def withheld_text(rec: Recommendation, catalogue: Catalogue) -> str:
    """'switch: X (condition): reason; reason' for a withheld countermeasure (no evidence tail)."""
    what = countermeasure_text(rec.countermeasure, catalogue).split(" [evidence")[0]
    return f"{what}: {'; '.join(rec.why)}"


def _instant(assessment: Assessment) -> str:
    text = assessment.at.isoformat()
    return text if assessment.at.tzinfo else text + "Z"


def _guidance(
    assessment: Assessment, catalogue: Catalogue, evaluation: str, device: str, group_url: str
) -> JSON:
    parameters = {
        "resourceType": "Parameters",
        "id": "implications",
        "parameter": [
            {
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
            for imp in assessment.implications
        ]
        + [_withheld_parameter(rec, catalogue) for rec in assessment.withheld]
        + [_exception_parameter(exc, catalogue) for exc in assessment.exceptions]
        or None,
    }
    outcome = {
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
    reasons = [ref for ref in sources(assessment) if ref.startswith(("Observation/", "DiagnosticReport/"))]
    return {
        "resourceType": "GuidanceResponse",
        "meta": {"profile": [terminology.SD_GUIDANCE]},
        "contained": [parameters, outcome],
        "identifier": [{"system": terminology.NS_EVALUATION, "value": evaluation}],
        "requestIdentifier": {"system": terminology.NS_EVALUATION, "value": evaluation},
        "moduleCanonical": f"{terminology.PLAN}|{assessment.catalogue_version}",
        "status": assessment.status.value,
        "subject": {"reference": assessment.patient} if assessment.patient else None,
        "occurrenceDateTime": _instant(assessment),
        "performer": {"reference": device},
        "reasonReference": [{"reference": r} for r in reasons] or None,
        "evaluationMessage": [{"reference": "#messages"}],
        "outputParameters": {"reference": "#implications"},
        "result": {"reference": group_url},
        "dataRequirement": [
            {
                "type": "Observation",
                "codeFilter": [
                    {
                        "path": "code",
                        "code": [
                            {"system": terminology.CS_DATA_NEED, "code": need.code, "display": need.text}
                        ],
                    }
                ],
                "extension": [
                    {
                        "url": f"{terminology.BASE}/StructureDefinition/data-requirement-reason",
                        "valueString": need.reason,
                    }
                ],
            }
            for need in assessment.data_requirements
        ]
        or None,
    }


def _withheld_parameter(rec: Recommendation, catalogue: Catalogue) -> JSON:
    """A countermeasure the patient's facts rule out, and why (never in the RequestGroup)."""
    cm = rec.countermeasure
    return {
        "name": "withheld-countermeasure",
        "part": [
            {
                "name": "strategy",
                "valueCoding": {
                    "system": terminology.CS_COUNTERMEASURE,
                    "code": cm.strategy.value,
                    "display": _STRATEGY_DISPLAY[cm.strategy],
                },
            },
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


def _request_group(assessment: Assessment, catalogue: Catalogue, group_id: str, device: str) -> JSON:
    return {
        "resourceType": "RequestGroup",
        "identifier": [{"system": terminology.NS_EVALUATION, "value": group_id}],
        "status": "draft" if assessment.countermeasures else "completed",
        "intent": "proposal",
        "subject": {"reference": assessment.patient} if assessment.patient else None,
        "authoredOn": _instant(assessment),
        "author": {"reference": device},
        "action": [_action(rec, catalogue) for rec in assessment.countermeasures] or None,
    }


def _action(rec: Recommendation, catalogue: Catalogue) -> JSON:
    cm = rec.countermeasure
    concepts: list[JSON] = [
        {
            "coding": [
                {
                    "system": terminology.CS_COUNTERMEASURE,
                    "code": cm.strategy.value,
                    "display": _STRATEGY_DISPLAY[cm.strategy],
                }
            ]
        }
    ]
    for drug_id in cm.drugs:
        concepts.append(drug_concept(drug_id, catalogue))
    conditional = rec.offer is Offer.CONDITIONAL
    return {
        "title": ": ".join(filter(None, (_STRATEGY_DISPLAY[cm.strategy], _what(cm, catalogue))))
        + (" (conditional)" if conditional else ""),
        "description": countermeasure_text(cm, catalogue)
        + f" Answers: {', '.join(rec.reasons)}."
        + (f" Only if: {'; '.join(rec.why)}." if conditional else ""),
        "code": concepts,
        "documentation": [_citation(r) for r in cm.evidence.references] or None,
        "extension": [
            *({"url": terminology.EXT_RULE, "valueString": r} for r in rec.rule_ids),
            {
                "url": terminology.EXT_OFFER,
                "valueCoding": {"system": terminology.CS_OFFER, "code": rec.offer.value},
            },
            *({"url": terminology.EXT_CONDITION, "valueString": why} for why in rec.why if conditional),
        ],
    }


def _what(cm: Countermeasure, catalogue: Catalogue) -> str:
    named = drug_names(cm.drugs, catalogue) or ", ".join(catalogue.classes[c].name for c in cm.classes)
    return named or ", ".join(cm.tests)


def drug_concept(drug_id: str, catalogue: Catalogue) -> JSON:
    drug = catalogue.drugs[drug_id]
    coding: list[JSON] = []
    if drug.codes.rxnorm:
        coding.append({"system": terminology.RXNORM, "code": drug.codes.rxnorm, "display": drug.name})
    # Only the first ATC code (the drug's code as a cancer drug, drugs.yaml): a second one is
    # another use of the same ingredient (e.g. bevacizumab's ophthalmic S01LA08).
    coding += [{"system": terminology.ATC, "code": atc, "display": drug.name} for atc in drug.codes.atc[:1]]
    if drug.codes.ncit:
        coding.append({"system": terminology.NCIT, "code": drug.codes.ncit, "display": drug.name})
    return {"coding": coding or None, "text": drug.name}


def _citation(ref: Reference) -> JSON:
    out: JSON = {"type": "citation", "display": ref.label()}
    if ref.pmid:
        out["url"] = f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/"
    return out


WITHDRAWN_STATUSES = frozenset({"cancelled", "entered-in-error"})


def withdrawals(
    existing: list[JSON], bundle: JSON, *, patient: str | None, therapies: tuple[str, ...], base: str, at: str
) -> list[JSON]:
    """Transaction entries that cancel our earlier DetectedIssues this evaluation no longer raises.

    Only issues of ``patient`` that carry our finding identifier and implicate one of the
    ``therapies`` this evaluation assessed are touched (an evaluation that did not look at a
    drug says nothing about it). Each is a versioned update (``If-Match``), so a concurrent
    change is detected instead of overwritten.
    """
    raised = {
        ident.get("value")
        for entry in bundle.get("entry") or []
        if (resource := entry.get("resource") or {}).get("resourceType") == "DetectedIssue"
        for ident in resource.get("identifier") or []
        if ident.get("system") == terminology.NS_FINDING
    }
    assessed = set(therapies)
    entries: list[JSON] = []
    for issue in existing:
        ours = [
            i.get("value") for i in issue.get("identifier") or [] if i.get("system") == terminology.NS_FINDING
        ]
        implicated = {r.get("reference") for r in issue.get("implicated") or [] if isinstance(r, dict)}
        if (
            issue.get("resourceType") != "DetectedIssue"
            or not ours
            or not isinstance(issue.get("id"), str)
            or issue.get("status") in WITHDRAWN_STATUSES
            or (issue.get("patient") or {}).get("reference") != patient
            or any(value in raised for value in ours)
            or not implicated & assessed
        ):
            continue
        meta = {k: v for k, v in (issue.get("meta") or {}).items() if k in ("profile", "tag", "security")}
        withdrawn = {**issue, "status": "cancelled"}
        if meta:
            withdrawn["meta"] = meta
        else:
            withdrawn.pop("meta", None)
        note = f" Withdrawn {at}: a later evaluation no longer supports this finding."
        withdrawn["detail"] = (issue.get("detail") or "").rstrip() + note
        request: JSON = {"method": "PUT", "url": f"DetectedIssue/{issue['id']}"}
        version = (issue.get("meta") or {}).get("versionId")
        if isinstance(version, str):
            request["ifMatch"] = f'W/"{version}"'
        full_url = f"{base.rstrip('/')}/DetectedIssue/{issue['id']}"
        entries.append({"fullUrl": full_url, "resource": withdrawn, "request": request})
    return entries
