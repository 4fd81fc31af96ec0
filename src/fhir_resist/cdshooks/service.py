"""The running service: its settings and catalogue, and what every route shares.

One ``Service`` per app (``create_app``): the thread pool that evaluates (posted reports, and
hook calls answered in this process), the evaluator processes (``processes`` > 0), the
assessment cache, the feedback store, the counters, the verifier of CDS clients' JWTs, the
FHIR clients' factories, the limits and the shares of work that waits on a FHIR server
(``fetches``: per caller; ``reports``: posted reports at once). Its lifespan closes the pools
and sets ``stopping``, which work still running checks. Routes reach it as a FastAPI
dependency (``Current``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request

from fhir_resist.catalogue import Catalogue
from fhir_resist.cdshooks import server
from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.auth import Verifier
from fhir_resist.cdshooks.catalogue_pages import CataloguePages
from fhir_resist.cdshooks.evaluators import Evaluators
from fhir_resist.cdshooks.feedback import FeedbackStore
from fhir_resist.cdshooks.fetches import Shares
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.cdshooks.metrics import Metrics
from fhir_resist.cdshooks.page_store import PageStore
from fhir_resist.cdshooks.prefetch import ClientFactory, default_client
from fhir_resist.cdshooks.settings import ServiceSettings
from fhir_resist.cdshooks.shared_state import SharedState
from fhir_resist.errors import Abandoned
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.outbox import Outbox

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Service:
    settings: ServiceSettings
    catalogue: Catalogue
    verifier: Verifier
    client_factory: ClientFactory  # the client a hook call fetches through (fhirServer, token)
    report_client: Callable[[], FhirClient] | None  # the write-back client (None: from settings)
    metrics: Metrics
    feedback: FeedbackStore
    cache: AssessmentCache
    pool: ThreadPoolExecutor
    evaluators: Evaluators | None
    limits: Limits
    fetches: Shares  # hook calls waiting on a FHIR server, per caller
    reports: Shares  # posted reports being evaluated (one key)
    stopping: threading.Event  # set when the service stops: work still running ends early
    site: CataloguePages  # the catalogue's pages, rendered on first request
    pages: PageStore | None = None  # the patient pages cards link (None: no public URL, no links)

    @classmethod
    def start(
        cls,
        settings: ServiceSettings,
        catalogue: Catalogue,
        *,
        client_factory: ClientFactory | None = None,
        report_client: Callable[[], Any] | None = None,
        verifier: Verifier | None = None,
        limits: Limits | None = None,
    ) -> Service:
        """The service with its thread pool started and its evaluator processes starting (the
        service process answers hook calls until they have checked in); the limits from the
        environment unless given."""
        limits = limits or Limits.from_env()
        if settings.server.base:  # a posted report's result the server fails must have somewhere to wait
            Outbox(settings.server.outbox).ensure_writable()
        state = SharedState(settings.state_dir)  # token ids seen and counters, shared by the processes
        metrics = Metrics(state)
        server.refusals.attach(metrics)
        return cls(
            settings=settings,
            catalogue=catalogue,
            verifier=verifier or Verifier(settings.trust, seen=state),
            client_factory=client_factory or default_client,
            report_client=report_client,
            metrics=metrics,
            feedback=FeedbackStore(settings.feedback_path),
            cache=AssessmentCache(settings.hook_cache),
            pool=ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="fhir-resist"),
            evaluators=(
                Evaluators(
                    settings.processes,
                    catalogue,
                    settings.catalogue_path,
                    settings.hook_cache,
                    wait=False,
                    public_url=settings.public_url,
                )
                if settings.processes > 0
                else None
            ),
            limits=limits,
            fetches=Shares(limits.caller_fetches),
            reports=Shares(limits.reports_at_once),
            stopping=threading.Event(),
            site=CataloguePages(catalogue),
            pages=PageStore.for_settings(settings),
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        yield
        self.close()

    def close(self) -> None:
        self.stopping.set()
        if self.evaluators is not None:
            self.evaluators.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.verifier.close()
        server.refusals.detach(self.metrics)

    async def within_deadline(self, future: Future[T]) -> T:
        """The future's result; ``TimeoutError`` past the deadline (the work goes on regardless,
        and its end, failed or not, is taken without a word)."""
        waited = asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.shield(waited), self.settings.deadline)
        except TimeoutError:
            waited.add_done_callback(_taken)
            raise

    async def run(self, work: Callable[[], T]) -> T:
        """The work, run in the thread pool, within the deadline."""
        return await self.within_deadline(self.pool.submit(work))

    async def run_for(self, request: Request, work: Callable[[threading.Event], T]) -> T:
        """The work, run in the thread pool for a caller waiting within the deadline; its ``stop``
        event is set when the caller stops waiting: ``TimeoutError`` past the deadline,
        ``Abandoned`` when the client disconnected first."""
        stop = threading.Event()
        waited = asyncio.wrap_future(self.pool.submit(work, stop))
        gone = asyncio.ensure_future(_disconnected(request))
        either: list[asyncio.Future[Any]] = [waited, gone]
        try:
            done, _ = await asyncio.wait(
                either, timeout=self.settings.deadline, return_when="FIRST_COMPLETED"
            )
        finally:
            gone.cancel()
        if waited in done:
            return waited.result()
        stop.set()
        waited.add_done_callback(_taken)
        if gone in done:
            raise Abandoned("the client disconnected before the answer")
        raise TimeoutError


async def _disconnected(request: Request) -> None:
    """Returns once the client has disconnected (its body already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _taken(future: asyncio.Future[Any]) -> None:
    """Takes the outcome of work nobody waits for any more (no 'exception never retrieved')."""
    if not future.cancelled():
        future.exception()


async def current(request: Request) -> Service:
    """The service of the app answering the request."""
    service = request.app.state.service
    assert isinstance(service, Service)
    return service


Current = Annotated[Service, Depends(current)]
