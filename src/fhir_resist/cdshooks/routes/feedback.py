"""``POST /cds-services/{id}/feedback``: feedback on cards, checked, recorded (fsynced), counted."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request

from fhir_resist.cdshooks import feedback as fb
from fhir_resist.cdshooks.access import authorise_cds_client
from fhir_resist.cdshooks.bodies import parse_body, read_body
from fhir_resist.cdshooks.hook_services import service_named
from fhir_resist.cdshooks.service import Current
from fhir_resist.errors import HttpError

log = logging.getLogger("fhir_resist.service")
router = APIRouter()


@router.post("/cds-services/{service_id}/feedback", summary="Feedback on cards")
async def feedback(service_id: str, request: Request, service: Current) -> dict[str, Any]:
    service_named(service_id)
    await authorise_cds_client(service, request)
    checked = fb.parse(parse_body(await read_body(request, service.settings)))
    try:
        recorded = service.feedback.record(service_id, checked)
    except OSError as exc:
        log.error("feedback could not be stored: %s", exc.strerror)
        raise HttpError(500, "feedback could not be stored; send it again") from None
    for item in checked.feedback:
        service.metrics.inc("feedback", service=service_id, outcome=item.outcome)
    return {"recorded": recorded.new, "repeated": recorded.repeated}
