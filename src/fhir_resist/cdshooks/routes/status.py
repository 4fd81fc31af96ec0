"""``GET /healthz`` (liveness and versions) and ``GET /metrics`` (the counters, the request heads
the HTTP server refused, and the posted reports being evaluated now), shared by every worker
process."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from fhir_resist.cdshooks import server
from fhir_resist.cdshooks.service import Current
from fhir_resist.version import VERSION

router = APIRouter()


@router.get("/healthz", summary="Liveness and versions")
def healthz(service: Current) -> dict[str, Any]:
    evaluators = service.evaluators.state if service.evaluators is not None else "none"
    return {
        "status": "ok",
        "version": VERSION,
        "catalogue": service.catalogue.version,
        "evaluators": evaluators,
    }


@router.get("/metrics", summary="Counters in Prometheus text format", response_class=PlainTextResponse)
def metrics_text(service: Current) -> str:
    metrics = service.metrics
    ended = sum(metrics.value("report_work", ended=end) for end in ("finished", "failed", "stopped"))
    in_flight = f"fhir_resist_reports_in_flight {metrics.value('report_work_started') - ended}\n"
    local = "" if server.refusals.shared else server.refusals.render()
    return metrics.render() + local + in_flight
