"""How the service answers an error: one table from error types to HTTP errors, one handler, and
the one OperationOutcome builder.

Routes raise; only the handler builds an error response. An ``HttpError`` carries its own
status; the other errors of the hierarchy are translated by ``TABLE`` (the most specific type
wins, as in Starlette's lookup). ``install`` registers the handler for each type in the table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from fhir_resist.errors import FhirResistError, HttpError, ServerError, Unauthorized

JSON = dict[str, Any]
log = logging.getLogger("fhir_resist.service")

# The OperationOutcome issue code for each status (anything else: "exception").
ISSUE_CODES = {
    400: "invalid",
    401: "security",
    412: "processing",
    413: "too-costly",
    422: "invalid",
    429: "throttled",
}


def _as_is(error: FhirResistError) -> HttpError:
    assert isinstance(error, HttpError)
    return error


def _unauthorised(_: FhirResistError) -> HttpError:
    return HttpError(401, "unauthorised", headers={"WWW-Authenticate": "Bearer"})  # the reason: to the log


def _server_unreadable(error: FhirResistError) -> HttpError:
    """A 502 that states the FHIR server's status, never its answer (that goes to the log)."""
    assert isinstance(error, ServerError)
    log.warning("the FHIR server could not be read: %s", error)
    said = f"it answered {error.status}" if error.status else "no usable answer (network, timeout, not FHIR)"
    return HttpError(502, f"the FHIR server could not be read: {said}")


def _refused_input(error: FhirResistError) -> HttpError:
    return HttpError(400, str(error))


TABLE: dict[type[FhirResistError], Callable[[FhirResistError], HttpError]] = {
    HttpError: _as_is,
    Unauthorized: _unauthorised,  # a CDS client's JWT or the report token refused
    ServerError: _server_unreadable,  # the FHIR server failed while a posted report was read
    FhirResistError: _refused_input,  # anything else refused on purpose (feedback, a posted report)
}


def http_error_of(error: FhirResistError) -> HttpError:
    """The HTTP error an error of the hierarchy is answered with."""
    for kind in type(error).__mro__:
        translate = TABLE.get(kind)
        if translate is not None:
            return translate(error)
    raise AssertionError("unreachable: FhirResistError is in the table")


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


async def answer(request: Request, exc: Exception) -> Response:
    """The handler: the error's OperationOutcome with its status and headers (a refused caller
    is counted, and logged with the reason)."""
    assert isinstance(exc, FhirResistError)
    if isinstance(exc, Unauthorized):
        request.app.state.service.metrics.inc("unauthorised")
        log.warning("401 on %s: %s", request.url.path, exc)
    error = http_error_of(exc)
    return JSONResponse(outcome(error), status_code=error.status, headers=error.headers)


def install(app: FastAPI) -> None:
    for kind in TABLE:
        app.add_exception_handler(kind, answer)
