"""``profiles/package.json``: the manifest that makes ``profiles/`` a FHIR NPM package.

IG tooling (the IG Publisher, HAPI's package installer, validators) reads a package's name,
version, canonical base and FHIR versions from it.
"""

from __future__ import annotations

from typing import Any

from fhir_resist import terminology
from fhir_resist.fhir.r4 import FHIR_VERSION

PACKAGE_NAME = "fhir-resist.profiles"


def package_manifest(version: str) -> dict[str, Any]:
    return {
        "name": PACKAGE_NAME,
        "version": version,
        "canonical": terminology.BASE,
        "url": terminology.BASE,
        "title": "fhir_resist profiles",
        "description": "Profiles, extensions and terminology of the resources fhir_resist writes.",
        "fhirVersions": [FHIR_VERSION],
        "type": "fhir.ig",
        "dependencies": {"hl7.fhir.r4.core": FHIR_VERSION},
    }
