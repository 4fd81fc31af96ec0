"""``POST /reports``: a genomic report or a Subscription notification, evaluated and written back.

Answers: 200 every result written (or superseded by a newer one), 202 one kept in the outbox
for later (or still evaluating at the deadline: it finishes in the background, delivered or
kept), 502 one refused by the server (kept with the reason) or the server could not be read,
503 no usable FHIR server configured or a result that could be neither written nor kept (a full
disk: post again), 413 more patients than ``report_patients`` in one body, 429 (with ``Retry-After``) while
``reports_at_once`` reports are being evaluated. The reports being evaluated (those answered
202 included) are on ``/metrics`` (``reports_in_flight``, ``report_work_total`` by end); when
the service stops, work still running ends before its next patient.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fhir_resist.cdshooks import reports
from fhir_resist.cdshooks.access import authorise_report_poster
from fhir_resist.cdshooks.bodies import parse_body, read_body
from fhir_resist.cdshooks.fetches import busy
from fhir_resist.cdshooks.service import Current, Service
from fhir_resist.config import client_for
from fhir_resist.errors import Abandoned, HttpError, InputError, ServerError
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.outbox import Outbox

log = logging.getLogger("fhir_resist.service")
router = APIRouter()
STILL_EVALUATING = {"status": "accepted", "detail": "still evaluating; the result will be delivered or kept"}
REPORTS = "reports"  # the one key of the reports' shares


@router.post("/reports", summary="A genomic report (Bundle) or a Subscription notification")
async def report(request: Request, service: Current) -> Response:
    authorise_report_poster(service, request)
    body = parse_body(await read_body(request, service.settings))
    client = _write_back_client(service)
    outbox = Outbox(service.settings.server.outbox)
    if not service.reports.take(REPORTS):
        service.metrics.inc("reports", outcome="busy")
        raise busy(f"{service.reports.limit} reports are being evaluated", service.settings.deadline)
    service.metrics.inc("report_work_started")  # in flight until its report_work end is counted

    def work() -> list[reports.ReportResult]:
        ended = "failed"
        try:
            results = reports.handle(
                body,
                service.catalogue,
                client,
                outbox,
                strategy=service.settings.server.strategy,
                max_patients=service.limits.report_patients,
                should_stop=service.stopping.is_set,
            )
            ended = "finished"
        except Abandoned as exc:
            ended = "stopped"
            log.warning("a posted report was stopped with the service: %s; post it again", exc)
            raise
        finally:
            service.reports.give_back(REPORTS)
            service.metrics.inc("report_work", ended=ended)
        for r in results:
            service.metrics.inc("reports", outcome=r.delivery.outcome)
        return results

    try:
        results = await service.run(work)
    except TimeoutError:
        service.metrics.inc("reports", outcome="still_evaluating")
        return JSONResponse(STILL_EVALUATING, status_code=202)
    except ServerError:
        service.metrics.inc("reports", outcome="unreadable")
        raise
    except Abandoned:
        raise HttpError(503, "the service is stopping; post the report again") from None
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
    """503 when a result could be neither written nor kept (the poster must send the report
    again), 502 when the server refused one, 202 when one is kept for later, else 200 (written,
    or superseded by a newer evaluation of the patient)."""
    outcomes = {r.delivery.outcome for r in results}
    if "unsaved" in outcomes:
        log.error("a posted report's result could be neither written nor kept; the poster is told to resend")
        return 503
    return 502 if "rejected" in outcomes else 202 if "queued" in outcomes else 200
