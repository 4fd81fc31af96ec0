"""The HTTP service (FastAPI): CDS Hooks 2.0 discovery, hooks and feedback; posted reports; health.

Only this module maps errors to HTTP statuses. Limits: request body size, resources per
request, and a deadline per request (a hook that misses it answers 503; a posted report that
misses it answers 202 and finishes in the background, delivered or kept in the outbox).
Logs carry service ids, statuses, counts and timings, never patient data or tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from fhir_resist import __version__
from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.cdshooks import feedback as fb
from fhir_resist.cdshooks import hooks, reports
from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.auth import Trust, Verifier
from fhir_resist.cdshooks.bodies import parse_body
from fhir_resist.cdshooks.evaluators import Evaluated, Evaluators, NeedsServer, Refused
from fhir_resist.cdshooks.hook_services import SERVICES, HookService, service_named
from fhir_resist.cdshooks.http_errors import outcome
from fhir_resist.cdshooks.prefetch import ClientFactory, default_client
from fhir_resist.cdshooks.tuning import tune_gc
from fhir_resist.config import ServerSettings, client_for, server_settings
from fhir_resist.errors import (
    CatalogueError,
    EvaluatorsBroken,
    FeedbackError,
    FhirResistError,
    HttpError,
    ServerError,
    Unauthorized,
)
from fhir_resist.fhir.outbox import Outbox

log = logging.getLogger("fhir_resist.service")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    auth: str = "jwt"  # "jwt" or "off" (local development only)
    trust: Trust = field(default_factory=lambda: Trust(frozenset()))
    reports_token: str | None = None
    public_url: str | None = None
    max_body: int = 10 * 1024 * 1024
    max_resources: int = 20_000
    deadline: float = 10.0
    workers: int = 8
    processes: int = 0  # evaluator processes for hook calls (0: evaluate in this process's threads)
    catalogue_path: Path | None = None  # the catalogue evaluator processes load (None: the default)
    hook_cache: int = 32  # assessments of prefetch-only hook calls kept (0: none)
    feedback_path: Path = Path("fhir-resist-feedback.jsonl")
    cors_origins: tuple[str, ...] = ("*",)
    server: ServerSettings = field(default_factory=server_settings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if env is None else env
        auth = env.get("FHIR_RESIST_CDS_AUTH", "jwt")
        if auth not in ("jwt", "off"):
            raise ValueError(f"FHIR_RESIST_CDS_AUTH must be jwt or off, not {auth!r}")
        server = server_settings(env)
        return cls(
            auth=auth,
            trust=Trust.from_env(env),
            reports_token=env.get("FHIR_RESIST_REPORTS_TOKEN") or None,
            public_url=(env.get("FHIR_RESIST_PUBLIC_URL") or "").rstrip("/") or None,
            max_body=int(env.get("FHIR_RESIST_MAX_BODY", 10 * 1024 * 1024)),
            max_resources=int(env.get("FHIR_RESIST_MAX_RESOURCES", 20_000)),
            deadline=float(env.get("FHIR_RESIST_DEADLINE", 10.0)),
            workers=int(env.get("FHIR_RESIST_WORKERS", 8)),
            processes=int(env.get("FHIR_RESIST_PROCESSES", 0)),
            catalogue_path=Path(env["FHIR_RESIST_CATALOGUE"]) if env.get("FHIR_RESIST_CATALOGUE") else None,
            hook_cache=int(env.get("FHIR_RESIST_HOOK_CACHE", 32)),
            feedback_path=Path(env.get("FHIR_RESIST_FEEDBACK") or server.outbox.parent / "feedback.jsonl"),
            cors_origins=tuple(
                o.strip() for o in env.get("FHIR_RESIST_CORS_ORIGINS", "*").split(",") if o.strip()
            ),
            server=server,
        )


class Metrics:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self._lock = threading.Lock()

    def inc(self, name: str, **labels: str) -> None:
        with self._lock:
            self._counts[(name, tuple(sorted(labels.items())))] += 1

    def value(self, name: str, **labels: str) -> int:
        return self._counts[(name, tuple(sorted(labels.items())))]

    def render(self) -> str:
        with self._lock:
            lines = []
            for (name, labels), count in sorted(self._counts.items()):
                label = ",".join(f'{k}="{v}"' for k, v in labels)
                lines.append(f"fhir_resist_{name}_total{{{label}}} {count}")
        return "\n".join(lines) + "\n"


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
) -> FastAPI:
    settings = settings or ServiceSettings.from_env()
    catalogue = catalogue or load_catalogue()
    verifier = verifier or Verifier(settings.trust)
    store = fb.FeedbackStore(settings.feedback_path)
    metrics = Metrics()
    pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="fhir-resist")
    make_client = client_factory or default_client
    cache = AssessmentCache(settings.hook_cache)
    evaluators = (
        Evaluators(settings.processes, catalogue, settings.catalogue_path, settings.hook_cache)
        if settings.processes > 0
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if evaluators is not None:
            evaluators.close()
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        lifespan=lifespan,
        title="fhir_resist",
        version=__version__,
        description="Targeted-therapy resistance decision support: CDS Hooks 2.0 services and a "
        "genomic-report endpoint that writes GuidanceResponse and DetectedIssue back to the EHR.",
    )
    app.state.metrics = metrics
    app.state.feedback = store
    app.state.pool = pool
    app.state.evaluators = evaluators
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
    )

    def audience(request: Request) -> str:
        base = settings.public_url or str(request.base_url).rstrip("/")
        return base + request.url.path

    def authorise(request: Request) -> None:
        if settings.auth == "off":
            return
        try:
            caller = verifier.verify(request.headers.get("Authorization"), audience(request))
        except Unauthorized as exc:
            metrics.inc("unauthorised")
            log.warning("401 on %s: %s", request.url.path, exc)
            raise HttpError(401, "unauthorised", headers={"WWW-Authenticate": "Bearer"}) from None
        log.info("call on %s from %s", request.url.path, caller.issuer)

    async def body_of(request: Request) -> Any:
        return (await raw_body_of(request))[1]

    async def raw_body_of(request: Request) -> tuple[bytes, Any]:
        raw = await raw_bytes_of(request)
        return raw, parse_body(raw)

    async def raw_bytes_of(request: Request) -> bytes:
        declared = request.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > settings.max_body:
            raise HttpError(413, f"the body is over {settings.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_body:
                raise HttpError(413, f"the body is over {settings.max_body} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if raw.count(b'"resourceType"') > settings.max_resources:
            raise HttpError(413, f"more than {settings.max_resources} resources in one request")
        return raw

    async def within_deadline(work: Callable[[], T]) -> T:
        future = asyncio.wrap_future(pool.submit(work))
        return await asyncio.wait_for(asyncio.shield(future), timeout=settings.deadline)

    @app.exception_handler(HttpError)
    async def _failed(request: Request, exc: HttpError) -> Response:
        return JSONResponse(outcome(exc), status_code=exc.status, headers=exc.headers)

    @app.get("/healthz", summary="Liveness and versions")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "catalogue": catalogue.version}

    @app.get("/metrics", summary="Counters in Prometheus text format", response_class=PlainTextResponse)
    def metrics_text() -> str:
        return metrics.render()

    @app.get("/cds-services", summary="CDS Hooks discovery")
    def discovery(request: Request) -> dict[str, Any]:
        authorise(request)
        return {"services": [s.discovery() for s in SERVICES]}

    @app.post("/cds-services/{service_id}", summary="Call a CDS Hooks service")
    async def call(service_id: str, request: Request) -> Response:
        service = service_named(service_id)
        authorise(request)
        if evaluators is not None:
            raw = await raw_bytes_of(request)
            answered = await evaluated_elsewhere(service, raw)
            if answered is not None:
                return answered
            body = parse_body(raw)  # the call needs the FHIR server: answered here
        else:
            raw, body = await raw_body_of(request)
        started = time.perf_counter()
        try:
            result = await within_deadline(
                lambda: hooks.call(service, body, catalogue, client_factory=make_client, raw=raw, cache=cache)
            )
        except HttpError as exc:
            metrics.inc("hook_calls", service=service.id, status=str(exc.status))
            raise
        except TimeoutError:
            metrics.inc("hook_calls", service=service.id, status="503")
            raise HttpError(503, f"no answer within {settings.deadline:g} s") from None
        return answered_with(service, result.cards, result.cached, started)

    def answered_with(
        service: HookService,
        cards: list[Any],
        cached: bool,
        started: float,
        evaluating: float | None = None,
    ) -> Response:
        """The 200 with the cards, counted and logged (no patient data: counts and timings)."""
        metrics.inc("hook_calls", service=service.id, status="200")
        if cached:
            metrics.inc("hook_cache_hits", service=service.id)
        for card in cards:
            metrics.inc("cards", service=service.id, indicator=card["indicator"])
        spent = f" ({1000 * evaluating:.0f} ms evaluating)" if evaluating is not None else ""
        log.info(
            "%s: %d card(s) in %.0f ms%s",
            service.id,
            len(cards),
            1000 * (time.perf_counter() - started),
            spent,
        )
        return JSONResponse({"cards": cards})

    def restart(broken: object) -> None:
        assert evaluators is not None
        try:
            evaluators.restart(broken)
        except CatalogueError as exc:
            log.error(
                "the evaluator processes could not be restarted (%s); hook calls are answered here", exc
            )
        else:
            log.warning("evaluator processes restarted")

    async def evaluated_elsewhere(service: HookService, raw: bytes) -> Response | None:
        """The answer of an evaluator process, or None for a call that needs the FHIR server."""
        assert evaluators is not None
        started = time.perf_counter()
        try:
            future = asyncio.wrap_future(evaluators.submit(service.id, raw))
            answer = await asyncio.wait_for(asyncio.shield(future), timeout=settings.deadline)
        except EvaluatorsBroken as exc:
            metrics.inc("evaluator_failures")
            log.error("%s: no evaluator answered (%s); answered in the service process", service.id, exc)
            if exc.pool is not None:
                pool.submit(restart, exc.pool)  # in the background; calls meanwhile are answered here
            return None
        except TimeoutError:
            metrics.inc("hook_calls", service=service.id, status="503")
            raise HttpError(503, f"no answer within {settings.deadline:g} s") from None
        match answer:
            case NeedsServer():
                return None
            case Refused(error):
                metrics.inc("hook_calls", service=service.id, status=str(error.status))
                raise error
            case Evaluated(cards, cached, seconds):
                return answered_with(service, cards, cached, started, seconds)

    @app.post("/cds-services/{service_id}/feedback", summary="Feedback on cards")
    async def feedback(service_id: str, request: Request) -> dict[str, Any]:
        service_named(service_id)
        authorise(request)
        body = await body_of(request)
        try:
            parsed = fb.parse(body)
        except FeedbackError as exc:
            raise HttpError(400, str(exc)) from None
        try:
            recorded = store.record(service_id, parsed)
        except OSError as exc:
            log.error("feedback could not be stored: %s", exc.strerror)
            raise HttpError(500, "feedback could not be stored; send it again") from None
        for item in parsed.feedback:
            metrics.inc("feedback", service=service_id, outcome=item.outcome)
        return {"recorded": recorded.new, "repeated": recorded.repeated}

    @app.post("/reports", summary="A genomic report (Bundle) or a Subscription notification")
    async def report(request: Request) -> Response:
        if settings.auth != "off":
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {settings.reports_token}" if settings.reports_token else None
            if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
                metrics.inc("unauthorised")
                raise HttpError(401, "unauthorised", headers={"WWW-Authenticate": "Bearer"})
        body = await body_of(request)
        if report_client is None and not settings.server.base:
            raise HttpError(503, "no FHIR server configured for write-back (FHIR_RESIST_FHIR_BASE)")
        client = report_client() if report_client else client_for(settings.server)
        outbox = Outbox(settings.server.outbox)

        def work() -> list[reports.ReportResult]:
            results = reports.handle(body, catalogue, client, outbox, strategy=settings.server.strategy)
            for r in results:
                metrics.inc("reports", outcome=r.delivery.outcome)
            return results

        try:
            results = await within_deadline(work)
        except HttpError:
            raise
        except TimeoutError:
            return JSONResponse(
                {"status": "accepted", "detail": "still evaluating; the result will be delivered or kept"},
                status_code=202,
            )
        except ServerError as exc:
            metrics.inc("reports", outcome="unreadable")
            raise HttpError(502, f"the FHIR server could not be read: {exc}") from None
        except FhirResistError as exc:
            raise HttpError(400, str(exc)) from None
        outcomes = {r.delivery.outcome for r in results}
        status = 502 if "rejected" in outcomes else 202 if "queued" in outcomes else 200
        return JSONResponse({"results": [r.as_json() for r in results]}, status_code=status)

    return app
