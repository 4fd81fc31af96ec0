"""Published conformance resources: current, and holding every code the outputs use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.fhir.profiles import conformance_resources
from tests.conftest import ROOT, SCENARIOS, load_json

AT = datetime(2026, 4, 1, tzinfo=UTC)


def test_published_profiles_are_current(catalogue: Catalogue) -> None:
    generated = conformance_resources(catalogue)
    published = {p.name: json.loads(p.read_text()) for p in (ROOT / "profiles").glob("*.json")}
    assert set(published) == set(generated), "regenerate with `fhir-resist profiles`"
    for name, resource in generated.items():
        assert published[name] == resource, (
            f"profiles/{name} is stale: regenerate with `fhir-resist profiles`"
        )


def test_code_systems_hold_every_code_the_outputs_use(catalogue: Catalogue) -> None:
    resources = conformance_resources(catalogue)
    mechanism = {c["code"] for c in resources["CodeSystem-resistance-mechanism.json"]["concept"]}
    assert {r.mechanism.value for r in catalogue.rules} <= mechanism
    timing = {c["code"] for c in resources["CodeSystem-resistance-timing.json"]["concept"]}
    assert timing == {"primary", "acquired", "undetermined"}


def test_element_paths_name_no_slice_and_slices_are_declared(catalogue: Catalogue) -> None:
    """FHIR: ``path`` never holds a slice name (HAPI cannot snapshot it); the slice is in ``id`` and
    ``sliceName``, and the element it slices declares its slicing."""
    for name, resource in conformance_resources(catalogue).items():
        if resource.get("resourceType") != "StructureDefinition":
            continue
        elements = resource["differential"]["element"]
        sliced = {e["path"] for e in elements if "slicing" in e}
        for element in elements:
            assert ":" not in element["path"], (name, element["path"])
            if "sliceName" in element:
                assert element["id"] == f"{element['path']}:{element['sliceName']}", name
                assert element["path"] in sliced, (name, element["id"])
            else:
                assert element["id"] == element["path"], name


def test_extension_slices_fit_the_extensions_they_profile(catalogue: Catalogue) -> None:
    """A slice may not allow an extension more often than the extension's own definition does
    (HAPI refuses such a profile: "derived max (*) cannot be greater than the base max (1)"), and
    the sliced element requires at least as many extensions as its slices add up to."""
    resources = conformance_resources(catalogue).values()
    extension_max = {
        r["url"]: r["differential"]["element"][0]["max"]
        for r in resources
        if r.get("resourceType") == "StructureDefinition" and r["type"] == "Extension"
    }
    slices = 0
    for resource in resources:
        if resource.get("resourceType") != "StructureDefinition" or resource["type"] == "Extension":
            continue
        elements = resource["differential"]["element"]
        for sliced in (e for e in elements if "slicing" in e):
            parts = [e for e in elements if e["path"] == sliced["path"] and "sliceName" in e]
            assert sliced.get("min", 0) >= sum(e["min"] for e in parts), sliced["id"]
            for part in parts:
                slices += 1
                allowed = extension_max[part["type"][0]["profile"][0]]
                fits = allowed == "*" or (part["max"] != "*" and int(part["max"]) <= int(allowed))
                assert fits, (part["id"], allowed)
    assert slices == 6


def test_written_codings_of_our_code_systems_carry_their_display(catalogue: Catalogue) -> None:
    """One source of truth: a coding of our CodeSystems is written with the CodeSystem's display."""
    displays = {
        (r["url"], c["code"]): c["display"]
        for r in conformance_resources(catalogue).values()
        if r.get("resourceType") == "CodeSystem"
        for c in r["concept"]
    }
    seen = 0
    for path in sorted(SCENARIOS.glob("*.json")):
        if path.name.endswith(".expect.json"):
            continue
        spec = SCENARIOS / path.name.replace(".json", ".expect.json")
        at = json.loads(spec.read_text()).get("at") if spec.exists() else None
        when = datetime.fromisoformat(at.replace("Z", "+00:00")) if at else AT
        bundle = to_bundle(evaluate([load_json(path)], catalogue=catalogue, at=when))
        for coding in _codings(bundle):
            key = (coding.get("system"), coding.get("code"))
            if key in displays and "display" in coding:
                assert coding["display"] == displays[key], (path.name, key)
                seen += 1
    assert seen > 50


def _codings(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if "system" in node and "code" in node else []
        return found + [c for v in node.values() for c in _codings(v)]
    if isinstance(node, list):
        return [c for v in node for c in _codings(v)]
    return []
