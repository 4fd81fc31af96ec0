"""fhir_resist: targeted-therapy resistance decision support on FHIR genomic reports.

>>> import fhir_resist
>>> assessment = fhir_resist.evaluate(resources)          # FHIR resource dicts
>>> bundle = fhir_resist.to_bundle(assessment)            # the transaction Bundle
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from fhir_resist.errors import (
    CatalogueError,
    FhirResistError,
    InputError,
    ServerError,
)

if TYPE_CHECKING:
    from fhir_resist.api import evaluate, read_context, to_bundle
    from fhir_resist.catalogue import Catalogue, load_catalogue
    from fhir_resist.engine.model import Assessment
    from fhir_resist.version import VERSION as __version__

# Imported on first use: ``import fhir_resist`` (and the command line, which imports it first)
# stays cheap, and reading the catalogue's models is paid only by what evaluates.
_LAZY = {
    "evaluate": ("fhir_resist.api", "evaluate"),
    "read_context": ("fhir_resist.api", "read_context"),
    "to_bundle": ("fhir_resist.api", "to_bundle"),
    "Catalogue": ("fhir_resist.catalogue", "Catalogue"),
    "load_catalogue": ("fhir_resist.catalogue", "load_catalogue"),
    "Assessment": ("fhir_resist.engine.model", "Assessment"),
    "__version__": ("fhir_resist.version", "VERSION"),
}


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(found[0]), found[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
