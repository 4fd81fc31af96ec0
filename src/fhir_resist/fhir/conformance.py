"""The check of an output resource against the profile it claims (``profiles.py`` publishes them).

Only the profile's differential is checked: cardinalities, fixed values and required bindings
to our CodeSystems. An element is named by its ``id`` (``DetectedIssue.extension:rule``); a slice
(``sliceName``) of an extension element holds the extensions whose url is the slice's profile.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.fhir.profiles import JSON, conformance_resources


def conformance_problems(resource: Mapping[str, Any], catalogue: Catalogue) -> list[str]:
    """Where an output resource departs from the profile it claims (empty when it conforms)."""
    claimed = (resource.get("meta") or {}).get("profile") or []
    resources = conformance_resources(catalogue)
    profiles = {r.get("url"): r for r in resources.values() if r.get("resourceType") == "StructureDefinition"}
    value_sets = {
        r["url"]: r["compose"]["include"][0]["system"]
        for r in resources.values()
        if r.get("resourceType") == "ValueSet"
    }
    systems = {
        r["url"]: {c["code"] for c in r["concept"]}
        for r in resources.values()
        if r.get("resourceType") == "CodeSystem"
    }
    problems: list[str] = []
    for url in claimed:
        profile = profiles.get(url)
        if profile is None:
            problems.append(f"{resource.get('resourceType')}: claims unknown profile {url}")
            continue
        for element in profile["differential"]["element"][1:]:
            problems += _check_element(resource, element, value_sets, systems)
    return problems


def _check_element(
    resource: Mapping[str, Any], element: JSON, value_sets: dict[str, str], systems: dict[str, set[str]]
) -> list[str]:
    path = element.get("id") or element["path"]
    parts = element["path"].split(".")[1:]
    problems: list[str] = []
    parents: list[Any] = [resource]
    for part in parts[:-1]:
        parents = [v for p in parents for v in _values(p, part)]
    for parent in parents:
        values = list(_values(parent, parts[-1])) if parts else [resource]
        if "sliceName" in element:
            values = [v for v in values if _in_slice(v, element)]
        problems += _cardinality(element, path, values)
        for value in values:
            fixed = next((v for k, v in element.items() if k.startswith("fixed")), None)
            if fixed is not None and value != fixed:
                problems.append(f"{path}: must be {fixed}, is {value}")
            binding = element.get("binding")
            if binding and binding.get("strength") == "required":
                system = value_sets[binding["valueSet"]]
                codings = [
                    c
                    for c in (value.get("coding", []) if isinstance(value, Mapping) else [])
                    if c.get("system") == system
                ]
                if not codings:
                    problems.append(f"{path}: needs a coding from {system}")
                problems += [
                    f"{path}: '{c.get('code')}' is not in {system}"
                    for c in codings
                    if c.get("code") not in systems[system]
                ]
    return problems


def _in_slice(value: Any, element: JSON) -> bool:
    """Whether an extension belongs to the slice (its url is the slice's extension profile)."""
    urls = {url for t in element.get("type", []) for url in t.get("profile", [])}
    return isinstance(value, Mapping) and value.get("url") in urls


def _values(node: Any, name: str) -> Iterator[Any]:
    if not isinstance(node, Mapping) or name not in node:
        return
    value = node[name]
    yield from (value if isinstance(value, list) else [value])


def _cardinality(element: JSON, path: str, values: list[Any]) -> list[str]:
    problems = []
    if len(values) < element.get("min", 0):
        problems.append(f"{path}: {len(values)} found, at least {element['min']} required")
    maximum = element.get("max", "*")
    if maximum != "*" and len(values) > int(maximum):
        problems.append(f"{path}: {len(values)} found, at most {maximum} allowed")
    return problems
