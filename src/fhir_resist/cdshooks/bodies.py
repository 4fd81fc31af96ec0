"""Request bodies as JSON: a body that is not JSON is a 400 naming where it fails."""

from __future__ import annotations

from typing import Any

from fhir_resist.errors import HttpError
from fhir_resist.files import JsonProblem, parse_json


def parse_body(raw: bytes) -> Any:
    """The JSON of a request body, or the 400 naming where it fails."""
    try:
        return parse_json(raw)
    except JsonProblem as exc:
        raise HttpError(400, f"the body is not JSON ({exc}{exc.where})") from None
