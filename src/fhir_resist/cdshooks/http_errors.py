"""How the service answers an error: an ``HttpError`` as an OperationOutcome (the one builder)."""

from __future__ import annotations

from typing import Any

from fhir_resist.errors import HttpError

JSON = dict[str, Any]

# The OperationOutcome issue code for each status (anything else: "exception").
ISSUE_CODES = {400: "invalid", 401: "security", 412: "processing", 413: "too-costly", 422: "invalid"}


def outcome(error: HttpError) -> JSON:
    """The OperationOutcome of an error: one issue, with the element at fault when named."""
    issue: JSON = {
        "severity": "error",
        "code": ISSUE_CODES.get(error.status, "exception"),
        "details": {"text": error.message},
    }
    if error.expression:
        issue["expression"] = [error.expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}
