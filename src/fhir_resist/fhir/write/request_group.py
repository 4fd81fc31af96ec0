"""The RequestGroup: one proposed action per countermeasure on offer (withheld ones never), each
pointing at the requests it proposes, contained in the group (``proposals``)."""

from __future__ import annotations

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Reference
from fhir_resist.engine.model import Assessment, Offer, Recommendation
from fhir_resist.fhir.write.elements import JSON, STRATEGY_DISPLAY, drug_concept, instant, strategy_coding
from fhir_resist.fhir.write.narrative import group_text
from fhir_resist.fhir.write.proposals import NO_PATIENT, proposals
from fhir_resist.fhir.write.wording import countermeasure_text, countermeasure_what


def request_group(assessment: Assessment, catalogue: Catalogue, group_id: str, device: str) -> JSON:
    """The countermeasures of the assessment as a draft proposal (completed when there are none)."""
    subject = {"reference": assessment.patient} if assessment.patient else None
    actions: list[JSON] = []
    contained: list[JSON] = []
    for n, rec in enumerate(assessment.countermeasures, 1):
        pointer, requests = proposals(rec.countermeasure, catalogue, f"proposal-{n}", subject or NO_PATIENT)
        actions.append({**_action(rec, catalogue), **pointer})
        contained += requests
    return {
        "resourceType": "RequestGroup",
        "meta": {"profile": [terminology.SD_REQUEST_GROUP]},
        "text": group_text(assessment, catalogue),
        "contained": contained or None,
        "identifier": [{"system": terminology.NS_EVALUATION, "value": group_id}],
        "status": "draft" if assessment.countermeasures else "completed",
        "intent": "proposal",
        "subject": subject,
        "authoredOn": instant(assessment),
        "author": {"reference": device},
        "action": actions or None,
    }


def _action(rec: Recommendation, catalogue: Catalogue) -> JSON:
    """The action's words, codes, evidence and extensions (what it proposes: ``proposals``)."""
    cm = rec.countermeasure
    concepts: list[JSON] = [{"coding": [strategy_coding(cm.strategy)]}]
    for drug_id in cm.drugs:
        concepts.append(drug_concept(drug_id, catalogue))
    conditional = rec.offer is Offer.CONDITIONAL
    return {
        "title": ": ".join(filter(None, (STRATEGY_DISPLAY[cm.strategy], countermeasure_what(cm, catalogue))))
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


def _citation(ref: Reference) -> JSON:
    out: JSON = {"type": "citation", "display": ref.label()}
    if ref.pmid:
        out["url"] = f"https://pubmed.ncbi.nlm.nih.gov/{ref.pmid}/"
    return out
