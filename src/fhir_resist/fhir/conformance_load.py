"""Loading ``profiles/`` onto a FHIR server: each conformance resource PUT under its own id.

A PUT (update-as-create) keeps the ids and canonical URLs of the package, and putting the same
resource again makes no new version, so loading twice is harmless. Each resource gets its own
result: a server that refuses one (its validator, a missing permission) does not stop the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.addresses import is_fhir_id
from fhir_resist.fhir.client import FhirClient

JSON = dict[str, Any]
Outcome = Literal["created", "updated", "unchanged", "refused"]
CONFORMANCE_TYPES = frozenset({"StructureDefinition", "CodeSystem", "ValueSet", "PlanDefinition"})


@dataclass(frozen=True, slots=True)
class Loaded:
    reference: str  # Type/id
    outcome: Outcome
    detail: str = ""  # the version written, or why the server refused it


def read_conformance(directory: Path) -> list[JSON]:
    """The conformance resources of a package directory (``index.json``/``package.json`` aside)."""
    if not directory.is_dir():
        raise InputError("not a directory", where=str(directory))
    resources = []
    for path in sorted(directory.glob("*.json")):
        if path.name in {"index.json", "package.json"}:
            continue
        try:
            resource = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"not readable as JSON ({exc})", where=str(path)) from exc
        if not isinstance(resource, dict) or resource.get("resourceType") not in CONFORMANCE_TYPES:
            raise InputError(
                f"not a conformance resource (expected one of {', '.join(sorted(CONFORMANCE_TYPES))})",
                where=str(path),
            )
        if not isinstance(resource.get("id"), str) or not is_fhir_id(resource["id"]):
            raise InputError("the resource has no valid id", where=str(path))
        resources.append(resource)
    if not resources:
        raise InputError("no conformance resources (*.json) found", where=str(directory))
    return resources


def load_conformance(client: FhirClient, resources: list[JSON]) -> list[Loaded]:
    """PUT each resource, those referred to before those that refer to them (a validating server
    refuses a profile whose extensions or value sets it does not know yet)."""
    return [_put(client, resource) for resource in sorted(resources, key=_load_rank)]


def _load_rank(resource: JSON) -> int:
    """CodeSystems, ValueSets, extension definitions, profiles, then the rest (PlanDefinition)."""
    rtype = resource["resourceType"]
    if rtype == "StructureDefinition":
        return 2 if resource.get("type") == "Extension" else 3
    return {"CodeSystem": 0, "ValueSet": 1}.get(rtype, 4)


def _put(client: FhirClient, resource: JSON) -> Loaded:
    reference = f"{resource['resourceType']}/{resource['id']}"
    try:
        before = _version(client, resource)
        response = client.request("PUT", reference, body=resource)
    except ServerError as exc:
        return Loaded(reference, "refused", str(exc))
    version = response.headers.get("ETag", "").removeprefix("W/").strip('"')
    if response.status_code == 201:
        return Loaded(reference, "created", f"version {version}")
    return Loaded(reference, "unchanged" if version == before else "updated", f"version {version}")


def _version(client: FhirClient, resource: JSON) -> str | None:
    try:
        current = client.read(resource["resourceType"], resource["id"])
    except ServerError as exc:
        if exc.status in (404, 410):
            return None
        raise
    return str((current.get("meta") or {}).get("versionId"))
