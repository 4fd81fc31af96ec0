"""The conformance resources fhir_resist publishes (``profiles/``).

CodeSystems and ValueSets are generated from the catalogue schema's enumerations, so the codes
written and the codes published cannot drift apart. StructureDefinitions are differentials on
R4 DetectedIssue and GuidanceResponse; ``conformance.conformance_problems`` checks an output
resource against its profile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import Effect, EvidenceLevel, Mechanism, Strategy
from fhir_resist.engine.conditions import CONDITION_REQUIREMENTS
from fhir_resist.engine.model import UNCERTAIN_RESISTANCE, Offer, TimingCall
from fhir_resist.engine.requirements import ENGINE_REQUIREMENTS, expression_rules
from fhir_resist.fhir.package import package_manifest
from fhir_resist.fhir.r4 import FHIR_VERSION, validated
from fhir_resist.version import VERSION

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


def _code_system(key: str, title: str, url: str, concepts: list[JSON], version: str) -> JSON:
    return {
        "resourceType": "CodeSystem",
        "id": key,
        "url": url,
        "version": version,
        "name": _name(key),
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
        "name": _name(key),
        "title": title,
        "status": "active",
        "publisher": "fhir_resist",
        "compose": {"include": [{"system": system}]},
    }


def _name(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("-"))


def _extension(key: str, title: str, value_type: str, context: list[str], version: str) -> JSON:
    url = f"{terminology.BASE}/StructureDefinition/{key}"
    return {
        "resourceType": "StructureDefinition",
        "id": key,
        "url": url,
        "version": version,
        "name": _name(key),
        "title": title,
        "status": "active",
        "fhirVersion": FHIR_VERSION,
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": c} for c in context],
        "type": "Extension",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Extension", "path": "Extension", "short": title, "min": 0, "max": "1"},
                {"id": "Extension.url", "path": "Extension.url", "fixedUri": url},
                {
                    "id": "Extension.value[x]",
                    "path": "Extension.value[x]",
                    "min": 1,
                    "type": [{"code": value_type}],
                },
            ]
        },
    }


def _element(path: str, *, min_: int | None = None, max_: str | None = None, **extra: Any) -> JSON:
    element: JSON = {"id": path, "path": path}
    if min_ is not None:
        element["min"] = min_
    if max_ is not None:
        element["max"] = max_
    element.update(extra)
    return element


def _binding(key: str) -> JSON:
    return {"strength": "required", "valueSet": f"{terminology.BASE}/ValueSet/{key}"}


def _profile(key: str, title: str, base: str, elements: list[JSON], version: str) -> JSON:
    return {
        "resourceType": "StructureDefinition",
        "id": key,
        "url": f"{terminology.BASE}/StructureDefinition/{key}",
        "version": version,
        "name": _name(key),
        "title": title,
        "status": "active",
        "fhirVersion": FHIR_VERSION,
        "kind": "resource",
        "abstract": False,
        "type": base,
        "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{base}",
        "derivation": "constraint",
        "differential": {"element": [_element(base), *elements]},
    }


def detected_issue_profile(version: str) -> JSON:
    return _profile(
        "resistance-detected-issue",
        "Targeted-therapy resistance DetectedIssue",
        "DetectedIssue",
        [
            _element(
                "DetectedIssue.extension",
                slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
            ),
            _element(
                "DetectedIssue.extension:rule",
                min_=1,
                max_="1",
                type=[{"code": "Extension", "profile": [terminology.EXT_RULE]}],
                sliceName="rule",
            ),
            _element(
                "DetectedIssue.extension:catalogueVersion",
                min_=1,
                max_="1",
                sliceName="catalogueVersion",
                type=[{"code": "Extension", "profile": [terminology.EXT_CATALOGUE_VERSION]}],
            ),
            _element(
                "DetectedIssue.extension:evidenceLevel",
                min_=1,
                max_="1",
                sliceName="evidenceLevel",
                type=[{"code": "Extension", "profile": [terminology.EXT_EVIDENCE_LEVEL]}],
            ),
            _element("DetectedIssue.identifier", min_=1, max_="1"),
            _element("DetectedIssue.identifier.system", min_=1, fixedUri=terminology.NS_FINDING),
            _element("DetectedIssue.identifier.value", min_=1),
            _element("DetectedIssue.code", min_=1, binding=_binding("therapy-implication")),
            _element("DetectedIssue.severity", min_=1),
            _element("DetectedIssue.patient", min_=1),
            _element("DetectedIssue.identifiedDateTime", min_=1),
            _element("DetectedIssue.author", min_=1),
            _element(
                "DetectedIssue.implicated",
                min_=2,
                short="The medication as the input names it, then the Observations",
            ),
            _element("DetectedIssue.evidence", min_=1, max_="1"),
            _element(
                "DetectedIssue.evidence.code",
                min_=1,
                max_="1",
                short="One mechanism coding and one timing coding",
            ),
            _element("DetectedIssue.evidence.detail", min_=1),
            _element("DetectedIssue.detail", min_=1),
            _element("DetectedIssue.reference", min_=1),
            _element("DetectedIssue.mitigation.action", min_=1, binding=_binding("countermeasure")),
        ],
        version,
    )


def guidance_response_profile(version: str) -> JSON:
    return _profile("resistance-guidance-response", "Targeted-therapy resistance GuidanceResponse",
                    "GuidanceResponse", [
        _element("GuidanceResponse.identifier", min_=1),
        _element("GuidanceResponse.moduleCanonical", min_=1),
        _element("GuidanceResponse.subject", min_=1),
        _element("GuidanceResponse.occurrenceDateTime", min_=1),
        _element("GuidanceResponse.performer", min_=1),
        _element("GuidanceResponse.evaluationMessage", min_=1, max_="1"),
        _element("GuidanceResponse.outputParameters", min_=1),
        _element("GuidanceResponse.result", min_=1),
    ], version)  # fmt: skip


def plan_definition(catalogue: Catalogue) -> JSON:
    return {
        "resourceType": "PlanDefinition",
        "id": "resistance-assessment",
        "url": terminology.PLAN,
        "version": catalogue.version,
        "name": "ResistanceAssessment",
        "title": "Targeted-therapy resistance assessment",
        "status": "active",
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type", "code": "eca-rule"}
            ]
        },
        "date": catalogue.meta.date.isoformat(),
        "publisher": catalogue.meta.publisher,
        "description": catalogue.meta.title,
        "action": [
            {
                "id": rule.id,
                "title": rule.title,
                "description": rule.evidence.summary or rule.title,
                "code": [{"coding": [{"system": terminology.CS_MECHANISM, "code": rule.mechanism.value}]}],
                "documentation": [
                    {"type": "citation", "display": ref.label()} for ref in rule.evidence.references
                ],
            }
            for rule in catalogue.rules
        ],
    }


def conformance_resources(catalogue: Catalogue) -> dict[str, JSON]:
    """Every conformance resource, keyed by file name under ``profiles/``."""
    resources = {
        **_terminologies(catalogue, VERSION),
        **_extensions(VERSION),
        "StructureDefinition-resistance-detected-issue.json": detected_issue_profile(VERSION),
        "StructureDefinition-resistance-guidance-response.json": guidance_response_profile(VERSION),
        "PlanDefinition-resistance-assessment.json": plan_definition(catalogue),
    }
    checked = {name: validated(resource) for name, resource in resources.items()}
    checked["index.json"] = _index(checked, catalogue, VERSION)
    checked["package.json"] = package_manifest(VERSION)
    return checked


def _terminologies(catalogue: Catalogue, version: str) -> dict[str, JSON]:
    """The CodeSystems, each enumeration's with its ValueSet, then data requirements and override reasons."""
    out: dict[str, JSON] = {}
    for key, (title, url, values) in _SYSTEMS.items():
        concepts = [_concept(v, _DEFINITIONS[v]) for v in values]
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
        *(_concept(code, definition) for code, definition in ENGINE_REQUIREMENTS.items()),
        *(_concept(code, definition) for code, definition in CONDITION_REQUIREMENTS.items()),
        *(_concept(r.id, r.title) for r in catalogue.requirements),
        *(_concept(r.id, r.title) for r in expression_rules(catalogue)),
    ]


def _concept(code: str, definition: str) -> JSON:
    return {"code": code, "display": code.replace("-", " "), "definition": definition}


def _extensions(version: str) -> dict[str, JSON]:
    """The StructureDefinitions of our extensions."""
    return {
        "StructureDefinition-rule-id.json": _extension(
            "rule-id", "Catalogue rule id", "string", ["DetectedIssue", "RequestGroup.action"], version
        ),
        "StructureDefinition-catalogue-version.json": _extension(
            "catalogue-version", "Catalogue version", "string", ["DetectedIssue"], version
        ),
        "StructureDefinition-evidence-level.json": _extension(
            "evidence-level", "Evidence level", "Coding", ["DetectedIssue"], version
        ),
        "StructureDefinition-countermeasure-offer.json": _extension(
            "countermeasure-offer",
            "Whether a countermeasure is offered or conditional",
            "Coding",
            ["RequestGroup.action"],
            version,
        ),
        "StructureDefinition-countermeasure-condition.json": _extension(
            "countermeasure-condition",
            "What must still hold for a conditional countermeasure",
            "string",
            ["RequestGroup.action"],
            version,
        ),
        "StructureDefinition-data-requirement-reason.json": _extension(
            "data-requirement-reason",
            "Why the data would change the answer",
            "string",
            ["DataRequirement"],
            version,
        ),
    }


def _index(resources: dict[str, JSON], catalogue: Catalogue, version: str) -> JSON:
    """``index.json``: the package's canonical base, versions and files."""
    return {
        "name": "fhir_resist",
        "canonical": terminology.BASE,
        "fhirVersion": FHIR_VERSION,
        "version": version,
        "catalogueVersion": catalogue.version,
        "resources": [
            {"file": name, "resourceType": r["resourceType"], "url": r.get("url")}
            for name, r in sorted(resources.items())
        ],
    }
