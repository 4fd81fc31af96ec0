"""Published conformance resources: current, and holding every code the outputs use."""

from __future__ import annotations

import json

from fhir_resist import Catalogue
from fhir_resist.fhir.profiles import conformance_resources
from tests.conftest import ROOT


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
