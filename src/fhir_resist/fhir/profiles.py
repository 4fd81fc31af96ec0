"""The conformance resources fhir_resist publishes (``profiles/``).

CodeSystems and ValueSets come from ``code_systems``. StructureDefinitions are differentials on
R4 DetectedIssue, GuidanceResponse and RequestGroup (slices named by ``sliceName``, their element
``id`` ``Type.extension:name``, their ``path`` without the name, as FHIR requires);
``conformance.conformance_problems`` checks an output resource against its profile.
"""

from __future__ import annotations

from typing import Any

from fhir_resist import terminology
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.fhir.code_systems import pascal_name, terminologies
from fhir_resist.fhir.package import package_manifest
from fhir_resist.fhir.r4 import FHIR_VERSION, validated
from fhir_resist.version import VERSION

JSON = dict[str, Any]


def _extension(
    key: str, title: str, value_type: str, context: list[str], version: str, *, repeats: bool = False
) -> JSON:
    """An extension with one value; ``repeats``: an element may carry it more than once."""
    url = f"{terminology.BASE}/StructureDefinition/{key}"
    return {
        "resourceType": "StructureDefinition",
        "id": key,
        "url": url,
        "version": version,
        "name": pascal_name(key),
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
                {
                    "id": "Extension",
                    "path": "Extension",
                    "short": title,
                    "min": 0,
                    "max": "*" if repeats else "1",
                },
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


def _slicing(path: str, min_: int) -> JSON:
    """An extension element sliced by the extensions' url (open: other extensions may follow),
    with at least ``min_`` extensions: the sum of its slices' minimums."""
    slicing = {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}
    return _element(path, min_=min_, slicing=slicing)


def _extension_slice(path: str, name: str, url: str, min_: int, max_: str) -> JSON:
    """The slice ``name`` of the extension element ``path``: the extensions whose url is ``url``."""
    return {
        "id": f"{path}:{name}",
        "path": path,
        "sliceName": name,
        "min": min_,
        "max": max_,
        "type": [{"code": "Extension", "profile": [url]}],
    }


def _binding(key: str) -> JSON:
    return {"strength": "required", "valueSet": f"{terminology.BASE}/ValueSet/{key}"}


def _profile(key: str, title: str, base: str, elements: list[JSON], version: str) -> JSON:
    return {
        "resourceType": "StructureDefinition",
        "id": key,
        "url": f"{terminology.BASE}/StructureDefinition/{key}",
        "version": version,
        "name": pascal_name(key),
        "title": title,
        "status": "active",
        "fhirVersion": FHIR_VERSION,
        "kind": "resource",
        "abstract": False,
        "type": base,
        "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{base}",
        "derivation": "constraint",
        "differential": {"element": [_element(base), *_narrative(base), *elements]},
    }


def _narrative(base: str) -> list[JSON]:
    """Every resource we write carries a generated narrative (``fhir/write/narrative.py``)."""
    return [
        _element(f"{base}.text", min_=1, short="What the resource means, for a clinician"),
        _element(f"{base}.text.status", fixedCode="generated"),
    ]


def detected_issue_profile(version: str) -> JSON:
    return _profile(
        "resistance-detected-issue",
        "Targeted-therapy resistance DetectedIssue",
        "DetectedIssue",
        [
            _slicing("DetectedIssue.extension", 3),
            _extension_slice("DetectedIssue.extension", "rule", terminology.EXT_RULE, 1, "1"),
            _extension_slice(
                "DetectedIssue.extension", "catalogueVersion", terminology.EXT_CATALOGUE_VERSION, 1, "1"
            ),
            _extension_slice(
                "DetectedIssue.extension", "evidenceLevel", terminology.EXT_EVIDENCE_LEVEL, 1, "1"
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


def request_group_profile(version: str) -> JSON:
    """The countermeasures on offer: each action with its rules and offer, and what it proposes."""
    action_extension = "RequestGroup.action.extension"
    title = "Targeted-therapy resistance countermeasures"
    return _profile("resistance-request-group", title, "RequestGroup", [
        _element("RequestGroup.identifier", min_=1, max_="1"),
        _element("RequestGroup.identifier.system", min_=1, fixedUri=terminology.NS_EVALUATION),
        _element("RequestGroup.identifier.value", min_=1),
        _element("RequestGroup.intent", fixedCode="proposal"),
        _element("RequestGroup.authoredOn", min_=1),
        _element("RequestGroup.author", min_=1),
        _slicing(action_extension, 2),
        _extension_slice(action_extension, "rule", terminology.EXT_RULE, 1, "*"),
        _extension_slice(action_extension, "offer", terminology.EXT_OFFER, 1, "1"),
        _extension_slice(action_extension, "condition", terminology.EXT_CONDITION, 0, "*"),
        _element("RequestGroup.action.title", min_=1),
        _element("RequestGroup.action.code", min_=1, short="The countermeasure's code, then its drugs"),
        _element(
            "RequestGroup.action.resource",
            short="The request proposed (a contained MedicationRequest or ServiceRequest, intent "
            "proposal), when the countermeasure proposes one; else the sub-actions hold them",
        ),
        _element(
            "RequestGroup.action.action.resource",
            min_=1,
            short="One of the requests the countermeasure proposes (contained)",
        ),
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
        **terminologies(catalogue, VERSION),
        **_extensions(VERSION),
        "StructureDefinition-resistance-detected-issue.json": detected_issue_profile(VERSION),
        "StructureDefinition-resistance-guidance-response.json": guidance_response_profile(VERSION),
        "StructureDefinition-resistance-request-group.json": request_group_profile(VERSION),
        "PlanDefinition-resistance-assessment.json": plan_definition(catalogue),
    }
    checked = {name: validated(resource) for name, resource in resources.items()}
    checked["index.json"] = _index(checked, catalogue, VERSION)
    checked["package.json"] = package_manifest(VERSION)
    return checked


def _extensions(version: str) -> dict[str, JSON]:
    """The StructureDefinitions of our extensions."""
    return {
        "StructureDefinition-rule-id.json": _extension(
            "rule-id",
            "Catalogue rule id",
            "string",
            ["DetectedIssue", "RequestGroup.action"],
            version,
            repeats=True,
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
            repeats=True,
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
