"""The CodeSystems and ValueSets fhir_resist publishes (``profiles/``), and their displays.

Generated from the catalogue schema's enumerations and the catalogue itself, so the codes written
and the codes published cannot drift apart. Every coding of these systems that fhir_resist writes
carries the display its CodeSystem gives (countermeasure strategies: ``STRATEGY_DISPLAY``; data
requirements: ``data_requirement_display``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Effect, EvidenceLevel, Mechanism, Strategy
from fhir_resist.engine.conditions import CONDITION_REQUIREMENT_DISPLAYS, CONDITION_REQUIREMENTS
from fhir_resist.engine.model import UNCERTAIN_RESISTANCE, Offer, TimingCall
from fhir_resist.engine.requirements import (
    ENGINE_REQUIREMENT_DISPLAYS,
    ENGINE_REQUIREMENTS,
    expression_requirement_display,
    expression_rules,
)
from fhir_resist.fhir.write.elements import STRATEGY_DISPLAY

JSON = dict[str, Any]

_DEFINITIONS: dict[str, str] = {
    "on-target": "An alteration of the drug's own target that stops the drug binding or acting.",
    "bypass": "Activation of a parallel receptor or pathway that supplies the signal the drug blocks.",
    "downstream": "Activation of a signal downstream of the drug's target, independent of it.",
    "phenotypic": "A change of cell identity (histological transformation) that removes the target role.",
    "drug-efflux": "Transporters that pump the drug out of the tumour cell.",
    "apoptosis-evasion": "Alterations that let tumour cells survive the drug's pro-apoptotic effect.",
    "epigenetic": "Epigenetic silencing or activation (promoter methylation) that changes drug response.",
    "microenvironment": "Stromal, immune or vascular factors outside the tumour cell.",
    "mismatch-repair": "Mismatch-repair deficiency / microsatellite instability.",
    "primary": "Present before the therapy started (intrinsic resistance).",
    "acquired": "Absent before, and present after the therapy started (emerged under treatment).",
    "undetermined": "The data do not show whether the alteration preceded the therapy.",
    "switch": "Stop the failing drug and use another.",
    "combine": "Add a drug that overcomes the mechanism to the current one.",
    "rechallenge": "Give the same drug class again after the resistant clones have declined.",
    "retest": "Test again (tissue or ctDNA) before deciding.",
    "clinical-trial": "Offer a clinical trial.",
    "monitor": "Continue and monitor (e.g. serial ctDNA).",
    "increase-dose": "Continue the drug at the higher dose named (imatinib 800 mg/day in KIT exon 9 GIST).",
    "A": "FDA label or professional guideline in this tumour type (AMP/ASCO/CAP level A).",
    "B": "Well-powered clinical studies with expert consensus (AMP/ASCO/CAP level B).",
    "C": "Multiple small studies, or level A/B evidence in another tumour type (AMP/ASCO/CAP level C).",
    "D": "Preclinical studies or case reports (AMP/ASCO/CAP level D).",
    "resistance": "The drug is expected not to work.",
    "reduced-response": "The drug is expected to work less well.",
    "no-known-effect": "The finding is not known to change the drug's effect.",
    "sensitivity": "The finding predicts that the drug works.",
    UNCERTAIN_RESISTANCE: "A new variant that the catalogue does not list, in a gene it ties to resistance "
    "to the drug, first seen after the drug started: of uncertain significance, for expert review; "
    "not a prediction that the drug fails (DetectedIssue code only, never a rule's effect).",
    "offered": "Every condition of the countermeasure is met by the patient's facts.",
    "conditional": "No condition fails, but some cannot be decided from the data; the GuidanceResponse "
    "names the data that would decide them.",
    "withheld": "The patient's facts rule the countermeasure out (reported with the reason, never proposed).",
}

_SYSTEMS: dict[str, tuple[str, str, Iterable[str]]] = {
    "resistance-mechanism": ("Resistance mechanism", terminology.CS_MECHANISM, [m.value for m in Mechanism]),
    "resistance-timing": ("Resistance timing", terminology.CS_TIMING, [t.value for t in TimingCall]),
    "countermeasure": ("Countermeasure strategy", terminology.CS_COUNTERMEASURE, [s.value for s in Strategy]),
    "evidence-level": (
        "Evidence level (AMP/ASCO/CAP)",
        terminology.CS_EVIDENCE,
        [e.value for e in EvidenceLevel],
    ),
    "therapy-implication": (
        "Therapy implication",
        terminology.CS_IMPLICATION,
        [*(e.value for e in Effect), UNCERTAIN_RESISTANCE],
    ),
    "countermeasure-offer": ("Countermeasure offer", terminology.CS_OFFER, [o.value for o in Offer]),
}

# Displays other than the code in words: the words every coding of the system is written with.
_DISPLAYS: dict[str, dict[str, str]] = {
    "countermeasure": {strategy.value: display for strategy, display in STRATEGY_DISPLAY.items()},
}


def _code_system(key: str, title: str, url: str, concepts: list[JSON], version: str) -> JSON:
    return {
        "resourceType": "CodeSystem",
        "id": key,
        "url": url,
        "version": version,
        "name": pascal_name(key),
        "title": title,
        "status": "active",
        "publisher": "fhir_resist",
        "caseSensitive": True,
        "valueSet": f"{terminology.BASE}/ValueSet/{key}",
        "content": "complete",
        "count": len(concepts),
        "concept": concepts,
    }


def _value_set(key: str, title: str, system: str, version: str) -> JSON:
    return {
        "resourceType": "ValueSet",
        "id": key,
        "url": f"{terminology.BASE}/ValueSet/{key}",
        "version": version,
        "name": pascal_name(key),
        "title": title,
        "status": "active",
        "publisher": "fhir_resist",
        "compose": {"include": [{"system": system}]},
    }


def pascal_name(key: str) -> str:
    """A computable name: 'resistance-mechanism' -> 'ResistanceMechanism'."""
    return "".join(part.capitalize() for part in key.split("-"))


def terminologies(catalogue: Catalogue, version: str) -> dict[str, JSON]:
    """The CodeSystems, each enumeration's with its ValueSet, then data requirements and override reasons."""
    out: dict[str, JSON] = {}
    for key, (title, url, values) in _SYSTEMS.items():
        displays = _DISPLAYS.get(key, {})
        concepts = [_concept(v, _DEFINITIONS[v], displays.get(v)) for v in values]
        out[f"CodeSystem-{key}.json"] = _code_system(key, title, url, concepts, version)
        out[f"ValueSet-{key}.json"] = _value_set(key, title, url, version)
    out["CodeSystem-data-requirement.json"] = _code_system(
        "data-requirement",
        "Data that would change the answer",
        terminology.CS_DATA_NEED,
        _requirement_concepts(catalogue),
        catalogue.version,
    )
    out["CodeSystem-override-reason.json"] = _code_system(
        "override-reason",
        "Why a resistance card was overridden",
        terminology.CS_OVERRIDE,
        [{"code": c, "display": d, "definition": d} for c, d in terminology.OVERRIDE_REASONS],
        version,
    )
    return out


def _requirement_concepts(catalogue: Catalogue) -> list[JSON]:
    """Every data requirement: the engine's, the conditions', the catalogue's and its expressions'."""
    return [
        *(_concept(c, d, ENGINE_REQUIREMENT_DISPLAYS[c]) for c, d in ENGINE_REQUIREMENTS.items()),
        *(_concept(c, d, CONDITION_REQUIREMENT_DISPLAYS[c]) for c, d in CONDITION_REQUIREMENTS.items()),
        *(_concept(r.id, r.title, r.title) for r in catalogue.requirements),
        *(_concept(r.id, r.title, expression_requirement_display(r)) for r in expression_rules(catalogue)),
    ]


def _concept(code: str, definition: str, display: str | None = None) -> JSON:
    return {"code": code, "display": display or code.replace("-", " "), "definition": definition}


def data_requirement_display(code: str, catalogue: Catalogue) -> str | None:
    """The display of a data-requirement code in its CodeSystem (written with every coding of it);
    None for a code the CodeSystem does not hold."""
    display = ENGINE_REQUIREMENT_DISPLAYS.get(code) or CONDITION_REQUIREMENT_DISPLAYS.get(code)
    if display is not None:
        return display
    requirement = next((r for r in catalogue.requirements if r.id == code), None)
    if requirement is not None:
        return requirement.title
    rule = catalogue.rule(code)  # the engine asks by rule id for an expression-only rule's test
    return expression_requirement_display(rule) if rule is not None else None
