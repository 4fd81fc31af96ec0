"""fhir_resist: targeted-therapy resistance decision support on FHIR genomic reports.

>>> import fhir_resist
>>> assessment = fhir_resist.evaluate(resources)          # FHIR resource dicts
>>> bundle = fhir_resist.to_bundle(assessment)            # the transaction Bundle
"""

from __future__ import annotations

from fhir_resist.api import evaluate, read_context, to_bundle
from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.engine.model import Assessment
from fhir_resist.errors import (
    CatalogueError,
    FhirResistError,
    InputError,
    ServerError,
)
from fhir_resist.version import VERSION as __version__

__all__ = [
    "Assessment",
    "Catalogue",
    "CatalogueError",
    "FhirResistError",
    "InputError",
    "ServerError",
    "__version__",
    "evaluate",
    "load_catalogue",
    "read_context",
    "to_bundle",
]
