"""``POST /reports``: a genomic report or a Subscription notification, evaluated and written back.

Answers: 200 every result written, 202 one kept in the outbox for later (or still evaluating at
the deadline: it finishes in the background, delivered or kept), 502 one refused by the server
(kept with the reason) or the server could not be read, 503 no usable FHIR server configured.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fhir_resist.cdshooks import reports
from fhir_resist.cdshooks.access import authorise_report_poster
from fhir_resist.cdshooks.bodies import parse_body, read_body
from fhir_resist.cdshooks.service import Current, Service
from fhir_resist.config import client_for
from fhir_resist.errors import HttpError, InputError, ServerError
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.outbox import Outbox

router = APIRouter()
STILL_EVALUATING = {"status": "accepted", "detail": "still evaluating; the result will be delivered or kept"}


@router.post("/reports", summary="A genomic report (Bundle) or a Subscription notification")
async def report(request: Request, service: Current) -> Response:
    authorise_report_poster(service, request)
    body = parse_body(await read_body(request, service.settings))
    client = _write_back_client(service)
    outbox = Outbox(service.settings.server.outbox)

    def work() -> list[reports.ReportResult]:
        results = reports.handle(
            body, service.catalogue, client, outbox, strategy=service.settings.server.strategy
        )
        for r in results:
            service.metrics.inc("reports", outcome=r.delivery.outcome)
        return results

    try:
        results = await service.run(work)
    except TimeoutError:
        return JSONResponse(STILL_EVALUATING, status_code=202)
    except ServerError:
        service.metrics.inc("reports", outcome="unreadable")
        raise
    return JSONResponse({"results": [r.as_json() for r in results]}, status_code=_status(results))


def _write_back_client(service: Service) -> FhirClient:
    if service.report_client is not None:
        return service.report_client()
    if not service.settings.server.base:
        raise HttpError(503, "no FHIR server configured for write-back (FHIR_RESIST_FHIR_BASE)")
    try:
        return client_for(service.settings.server)
    except InputError as exc:  # the service's configuration, not the poster's input
        raise HttpError(503, f"the FHIR server for write-back is misconfigured: {exc}") from None


def _status(results: list[reports.ReportResult]) -> int:
    """502 when the server refused a result, 202 when one is kept for later, else 200."""
    outcomes = {r.delivery.outcome for r in results}
    return 502 if "rejected" in outcomes else 202 if "queued" in outcomes else 200
