"""The Python API: read, evaluate and render, with the clock and catalogue read at this edge."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.domain import PatientContext
from fhir_resist.engine.assess import assess
from fhir_resist.engine.model import Assessment
from fhir_resist.fhir.read import read_context as _read_context
from fhir_resist.fhir.write import to_bundle
from fhir_resist.files import valid_unicode

_default: Catalogue | None = None


def default_catalogue() -> Catalogue:
    """The configured catalogue, loaded and validated once per process."""
    global _default
    if _default is None:
        _default = load_catalogue()
    return _default


def read_context(
    resources: Iterable[Mapping[str, Any]],
    *,
    tumour: str | None = None,
    patient: str | None = None,
    catalogue: Catalogue | None = None,
) -> PatientContext:
    """What fhir_resist understands of the resources (Bundles are unpacked), read with the
    catalogue's words and cut-offs (default: the configured catalogue)."""
    rules = (catalogue or default_catalogue()).reading
    return _read_context(_usable(resources), tumour_override=tumour, patient=patient, rules=rules)


def evaluate(
    resources: Iterable[Mapping[str, Any]],
    *,
    catalogue: Catalogue | None = None,
    at: datetime | None = None,
    tumour: str | None = None,
    patient: str | None = None,
) -> Assessment:
    """Assess one patient's resources against the catalogue at time ``at`` (default: now, UTC)."""
    used = catalogue or default_catalogue()
    context = _read_context(_usable(resources), tumour_override=tumour, patient=patient, rules=used.reading)
    when = at if at is not None else datetime.now(UTC)
    return assess(context, used, when)


def _usable(resources: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The resources with lone UTF-16 surrogates (what ``json.load`` makes of ``"\\ud800"``)
    replaced by U+FFFD, so that every id and text read can be hashed and written out."""
    return [valid_unicode(resource) for resource in resources]


__all__ = ["default_catalogue", "evaluate", "read_context", "to_bundle"]
