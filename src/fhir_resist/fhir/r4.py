"""The one place that imports fhir.resources: FHIR R4 (4.0.1) models via the R4B package.

R4B has the same shapes as R4 for every resource fhir_resist writes (GuidanceResponse,
DetectedIssue, RequestGroup, Provenance, Device, OperationOutcome, Parameters, Bundle).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhir_resist.errors import OutputValidationError

FHIR_VERSION = "4.0.1"


def validated(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an output resource with fhir.resources and return it as plain JSON."""
    rtype = str(resource.get("resourceType"))
    try:
        model = get_fhir_model_class(rtype).model_validate(dict(resource))
    except (ValidationError, KeyError, ValueError) as exc:
        raise OutputValidationError(f"output {rtype} is not valid FHIR R4: {exc}") from exc
    out: dict[str, Any] = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return out
