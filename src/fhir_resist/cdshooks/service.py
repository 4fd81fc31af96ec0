"""The running service: its settings and catalogue, and what every route shares.

One ``Service`` per app (``create_app``): the thread pool that evaluates (posted reports, and
hook calls answered in this process), the evaluator processes (``processes`` > 0), the
assessment cache, the feedback store, the counters, the verifier of CDS clients' JWTs and the
FHIR clients' factories. Its lifespan closes the pools. Routes reach it as a FastAPI
dependency (``Current``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request

from fhir_resist.catalogue import Catalogue
from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.auth import Verifier
from fhir_resist.cdshooks.evaluators import Evaluators
from fhir_resist.cdshooks.feedback import FeedbackStore
from fhir_resist.cdshooks.metrics import Metrics
from fhir_resist.cdshooks.prefetch import ClientFactory, default_client
from fhir_resist.cdshooks.settings import ServiceSettings
from fhir_resist.cdshooks.shared_state import SharedState
from fhir_resist.fhir.client import FhirClient

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

    @classmethod
    def start(
        cls,
        settings: ServiceSettings,
        catalogue: Catalogue,
        *,
        client_factory: ClientFactory | None = None,
        report_client: Callable[[], Any] | None = None,
        verifier: Verifier | None = None,
    ) -> Service:
        """The service with its pools started (and the evaluator processes checked)."""
        state = SharedState(settings.state_dir)  # token ids seen and counters, shared by the processes
        return cls(
            settings=settings,
            catalogue=catalogue,
            verifier=verifier or Verifier(settings.trust, seen=state),
            client_factory=client_factory or default_client,
            report_client=report_client,
            metrics=Metrics(state),
            feedback=FeedbackStore(settings.feedback_path),
            cache=AssessmentCache(settings.hook_cache),
            pool=ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="fhir-resist"),
            evaluators=(
                Evaluators(settings.processes, catalogue, settings.catalogue_path, settings.hook_cache)
                if settings.processes > 0
                else None
            ),
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        yield
        self.close()

    def close(self) -> None:
        if self.evaluators is not None:
            self.evaluators.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.verifier.close()

    async def within_deadline(self, future: Future[T]) -> T:
        """The future's result; ``TimeoutError`` past the deadline (the work goes on regardless)."""
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self.settings.deadline)

    async def run(self, work: Callable[[], T]) -> T:
        """The work, run in the thread pool, within the deadline."""
        return await self.within_deadline(self.pool.submit(work))


async def current(request: Request) -> Service:
    """The service of the app answering the request."""
    service = request.app.state.service
    assert isinstance(service, Service)
    return service


Current = Annotated[Service, Depends(current)]
