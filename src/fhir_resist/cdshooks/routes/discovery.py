"""``GET /cds-services``: CDS Hooks discovery (for a trusted CDS client)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from fhir_resist.cdshooks.access import authorise_cds_client
from fhir_resist.cdshooks.hook_services import SERVICES
from fhir_resist.cdshooks.service import Current

router = APIRouter()


@router.get("/cds-services", summary="CDS Hooks discovery")
async def discovery(request: Request, service: Current) -> dict[str, Any]:
    await authorise_cds_client(service, request)
    return {"services": [s.discovery() for s in SERVICES]}
