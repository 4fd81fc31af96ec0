"""The HTTP service (FastAPI): CDS Hooks 2.0 discovery, hooks and feedback; posted reports; health.

``create_app`` builds one ``Service`` (service.py: settings, pools, lifespan, deadline) and an
app over it: the routers of ``routes/`` (status, discovery, hooks, feedback, reports) and the
one error handler of ``http_errors`` (the only place errors become HTTP responses). Limits:
request heads, connections and keep-alive at the HTTP server (server.py), request body size and
resources per request (bodies.py), calls waiting on a FHIR server per caller and posted reports
at once (fetches.py, limits.py), and a deadline per request (a hook
that misses it answers 503; a posted report that misses it answers 202 and finishes in the
background, delivered or kept in the outbox). Logs carry service ids, statuses, counts and
timings, never patient data or tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.cdshooks import http_errors
from fhir_resist.cdshooks.auth import Verifier
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.cdshooks.pages import hide_page_ids
from fhir_resist.cdshooks.prefetch import ClientFactory
from fhir_resist.cdshooks.routes import ROUTERS
from fhir_resist.cdshooks.service import Service
from fhir_resist.cdshooks.settings import ServiceSettings, check
from fhir_resist.cdshooks.tuning import tune_gc
from fhir_resist.version import VERSION

__all__ = ["ServiceSettings", "create_app", "service_app"]

DESCRIPTION = (
    "Targeted-therapy resistance decision support: CDS Hooks 2.0 services and a genomic-report "
    "endpoint that writes GuidanceResponse and DetectedIssue back to the EHR."
)


def service_app() -> FastAPI:
    """The app as each ``serve --workers`` process builds it (settings from the environment)."""
    app = create_app()
    tune_gc()
    return app


def create_app(
    settings: ServiceSettings | None = None,
    *,
    catalogue: Catalogue | None = None,
    client_factory: ClientFactory | None = None,
    report_client: Callable[[], Any] | None = None,
    verifier: Verifier | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """The app: settings from the environment and the bundled catalogue unless given;
    ``client_factory`` makes the client hook calls fetch through, ``report_client`` the one
    posted reports are written back with (default: from the settings); ``limits`` the service's
    limits (default: from the environment). Settings the service cannot run with
    (``settings.check``) are an ``InputError`` naming the setting."""
    settings = settings or ServiceSettings.from_env()
    check(settings)
    catalogue = catalogue or load_catalogue()
    service = Service.start(
        settings,
        catalogue,
        client_factory=client_factory,
        report_client=report_client,
        verifier=verifier,
        limits=limits,
    )
    app = FastAPI(lifespan=service.lifespan, title="fhir_resist", version=VERSION, description=DESCRIPTION)
    app.state.service = service
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
    )
    http_errors.install(app)
    hide_page_ids()  # a patient page's id is its capability: never in the access log
    for router in ROUTERS:
        app.include_router(router)
    return app
