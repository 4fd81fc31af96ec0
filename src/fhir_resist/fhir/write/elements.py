"""The FHIR elements the output resources share: strategy and drug codings, rule links, instants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Strategy as CountermeasureStrategy
from fhir_resist.engine.model import Assessment

JSON = dict[str, Any]

STRATEGY_DISPLAY: dict[CountermeasureStrategy, str] = {
    CountermeasureStrategy.SWITCH: "Switch therapy",
    CountermeasureStrategy.COMBINE: "Combine therapies",
    CountermeasureStrategy.RECHALLENGE: "Rechallenge",
    CountermeasureStrategy.RETEST: "Retest",
    CountermeasureStrategy.CLINICAL_TRIAL: "Clinical trial",
    CountermeasureStrategy.MONITOR: "Monitor",
    CountermeasureStrategy.INCREASE_DOSE: "Increase the dose",
}


def strategy_coding(strategy: CountermeasureStrategy) -> JSON:
    """The countermeasure strategy as a Coding of our CodeSystem, with its display."""
    return {
        "system": terminology.CS_COUNTERMEASURE,
        "code": strategy.value,
        "display": STRATEGY_DISPLAY[strategy],
    }


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


def rule_url(rule_id: str) -> str:
    return f"{terminology.RULE_URL}/{rule_id}"


def instant(assessment: Assessment) -> str:
    """When the assessment was made, as a FHIR dateTime (UTC when the clock gave no zone), UTC
    written ``Z`` as fhir.resources writes it."""
    at = assessment.at
    if at.tzinfo is not None and at.utcoffset() != timedelta(0):
        return at.isoformat()
    return at.replace(tzinfo=None).isoformat() + "Z"
