"""``GET /healthz`` (liveness and versions) and ``GET /metrics`` (the counters)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from fhir_resist.cdshooks.service import Current
from fhir_resist.version import VERSION

router = APIRouter()


@router.get("/healthz", summary="Liveness and versions")
def healthz(service: Current) -> dict[str, Any]:
    return {"status": "ok", "version": VERSION, "catalogue": service.catalogue.version}


@router.get("/metrics", summary="Counters in Prometheus text format", response_class=PlainTextResponse)
def metrics_text(service: Current) -> str:
    return service.metrics.render()
