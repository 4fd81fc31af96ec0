"""The transaction Bundle, its entries and the deterministic identifiers that make it idempotent."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

from fhir_resist import terminology
from fhir_resist.engine.model import Assessment
from fhir_resist.fhir.write.detected_issue import detected_issue, uncertain_issue
from fhir_resist.fhir.write.elements import JSON
from fhir_resist.fhir.write.guidance import guidance_response
from fhir_resist.fhir.write.provenance import device, provenance
from fhir_resist.fhir.write.request_group import request_group
from fhir_resist.fhir.write.strategies import WRITE_STRATEGIES, WriteStrategy
from fhir_resist.version import VERSION

# How each entry is made idempotent on the server: PUT to a client-assigned id, or a conditional
# create (If-None-Exist on the identifier) for servers that refuse client ids.

# Set to 1 to validate every Bundle with fhir.resources as it is made (about 15 ms for a typical
# result, and more with its size). The writers' output is proven valid by the tests instead, which
# validate everything they make this way (tests/conftest.py), and by the profile checks.
ENV_VALIDATE = "FHIR_RESIST_VALIDATE_OUTPUT"


def validation_asked() -> bool:
    return os.environ.get(ENV_VALIDATE, "").strip().lower() in {"1", "true", "yes", "on"}


def to_bundle(
    assessment: Assessment, *, strategy: WriteStrategy = "put", validate: bool | None = None
) -> JSON:
    """The transaction Bundle: Device, DetectedIssues, RequestGroup, GuidanceResponse, Provenance.

    Absent elements (None, empty lists) are left out, as FHIR requires. With ``validate`` (default:
    ``$FHIR_RESIST_VALIDATE_OUTPUT``) the Bundle is validated with fhir.resources and returned as
    its model writes it (the same JSON: ``tests/fhir/test_write_unvalidated.py``); an invalid one
    raises OutputValidationError.
    """
    if strategy not in WRITE_STRATEGIES:
        raise ValueError(
            f"unknown write strategy {strategy!r}; expected one of {', '.join(WRITE_STRATEGIES)}"
        )
    catalogue = assessment.catalogue
    evaluation = evaluation_id(assessment)
    device_id = f"fhir-resist-{VERSION}"
    device_entry = _entry(device(device_id), terminology.NS_DEVICE, device_id, strategy)
    device_url = device_entry["fullUrl"]
    issue_entries = [
        _entry(
            detected_issue(issue, assessment, catalogue, device_url),
            terminology.NS_FINDING,
            issue.identifier,
            strategy,
        )
        for issue in assessment.issues
    ]
    issue_entries += [
        _entry(
            uncertain_issue(issue, assessment, device_url), terminology.NS_FINDING, issue.identifier, strategy
        )
        for issue in assessment.uncertain
    ]
    group_id = f"{evaluation}-countermeasures"
    group_entry = _entry(
        request_group(assessment, catalogue, group_id, device_url),
        terminology.NS_EVALUATION,
        group_id,
        strategy,
    )
    guidance_entry = _entry(
        guidance_response(assessment, catalogue, evaluation, device_url, group_entry["fullUrl"]),
        terminology.NS_EVALUATION,
        evaluation,
        strategy,
    )
    provenance_id = f"{evaluation}-provenance"
    targets = [entry["fullUrl"] for entry in (guidance_entry, group_entry, *issue_entries)]
    provenance_entry = _entry(
        provenance(assessment, provenance_id, targets, device_url),
        terminology.NS_EVALUATION,
        provenance_id,
        strategy,
        search="_tag",
    )
    entries = [device_entry, *issue_entries, group_entry, guidance_entry, provenance_entry]
    return _checked(_pruned({"resourceType": "Bundle", "type": "transaction", "entry": entries}), validate)


def _checked(bundle: JSON, validate: bool | None) -> JSON:
    """The Bundle, validated by fhir.resources (and as its model writes it) when that is asked for."""
    if validation_asked() if validate is None else validate:
        from fhir_resist.fhir.r4 import validated

        return validated(bundle)
    return bundle


def _pruned(node: Any) -> Any:
    """The JSON without absent elements: no None value, no empty list."""
    if isinstance(node, dict):
        return {k: _pruned(v) for k, v in node.items() if v is not None and v != []}
    if isinstance(node, list):
        return [_pruned(v) for v in node if v is not None]
    return node


def evaluation_id(assessment: Assessment) -> str:
    """Deterministic: the same patient, inputs, catalogue version and conclusions give the same id."""
    parts = [
        assessment.patient or "",
        assessment.catalogue_version,
        *sorted(assessment.inputs),
        *sorted(i.identifier for i in assessment.issues),
        *sorted(i.identifier for i in assessment.uncertain),
        *sorted(f"{i.target}:{i.effect}" for i in assessment.implications),
        *sorted(d.code for d in assessment.data_requirements),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def resource_id(system: str, value: str) -> str:
    """The client-assigned id of the resource carrying identifier ``system|value``.

    Non-numeric (HAPI refuses all-digit client ids), 43 characters of [a-z0-9-] (FHIR ids
    allow 64), and stable across releases: it is how a re-run finds what it wrote before.
    """
    return "fr-" + hashlib.sha256(f"{system}|{value}".encode()).hexdigest()[:40]


def _urn(system: str, value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


def _entry(
    resource: JSON, system: str, value: str, strategy: WriteStrategy, *, search: str = "identifier"
) -> JSON:
    """The transaction entry of the resource identified by ``system|value``, written by ``strategy``.

    Its fullUrl is the urn:uuid the other new resources refer to it by.
    """
    rtype = resource["resourceType"]
    if strategy == "put":
        rid = resource_id(system, value)
        rest = {k: v for k, v in resource.items() if k != "resourceType"}
        resource = {"resourceType": rtype, "id": rid, **rest}
        request: JSON = {"method": "PUT", "url": f"{rtype}/{rid}"}
    else:
        request = {"method": "POST", "url": rtype, "ifNoneExist": f"{search}={system}|{value}"}
    full_url = _urn(system, value)
    return {"fullUrl": full_url, "resource": resource, "request": request}
