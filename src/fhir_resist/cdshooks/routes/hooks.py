"""``POST /cds-services/{id}``: a hook call, answered with cards.

With evaluator processes (``processes`` > 0) the raw body goes to one; a call that needs the
FHIR server, or that no evaluator could take, is answered in this process's threads. Either
way within the deadline (503 past it). A call answered here that must fetch from a FHIR server
takes one of its caller's shares first (429 when the caller has none left, ``fetches.py``), and
its fetching stops once nobody waits for it (past the deadline, or the client gone). Every
answer after the body was read is counted by status; the 200s are logged with counts and
timings, never patient data. With a public URL, every card links the call's patient page
(``pages.py``), stored before the answer.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fhir_resist.cdshooks import hooks
from fhir_resist.cdshooks.access import authorise_cds_client, client_factory_for
from fhir_resist.cdshooks.bodies import parse_body, read_body
from fhir_resist.cdshooks.evaluators import Answer, Evaluated, Evaluators, NeedsServer, NotStarted, Refused
from fhir_resist.cdshooks.fetches import CallFetches
from fhir_resist.cdshooks.hook_services import HookService, service_named
from fhir_resist.cdshooks.pages import with_page
from fhir_resist.cdshooks.prefetch import ClientFactory
from fhir_resist.cdshooks.service import Current, Service
from fhir_resist.errors import Abandoned, CatalogueError, EvaluatorsBroken, HttpError

JSON = dict[str, Any]
log = logging.getLogger("fhir_resist.service")
router = APIRouter()


@dataclass(frozen=True, slots=True)
class _Answered:
    cards: list[JSON]
    cached: bool
    evaluating: float | None = None  # seconds an evaluator process spent (None: answered here)
    page: JSON | None = None  # the patient page's model (with a page store only)


@router.post("/cds-services/{service_id}", summary="Call a CDS Hooks service")
async def call(service_id: str, request: Request, service: Current) -> Response:
    hook = service_named(service_id)
    caller = await authorise_cds_client(service, request)
    raw = await read_body(request, service.settings)
    started = time.perf_counter()
    call_of = _Call(request, caller.issuer if caller else None, client_factory_for(service, caller))
    try:
        answered = await _answer(service, hook, raw, call_of)
    except TimeoutError:
        service.metrics.inc("hook_calls", service=hook.id, status="503")
        raise HttpError(503, f"no answer within {service.settings.deadline:g} s") from None
    except Abandoned:
        service.metrics.inc("hook_calls", service=hook.id, status="abandoned")
        log.info("%s: the client disconnected before the answer", hook.id)
        return Response(status_code=499)  # nobody reads it
    except HttpError as error:
        service.metrics.inc("hook_calls", service=hook.id, status=str(error.status))
        raise
    if service.pages is not None and answered.page is not None:
        linked = await with_page(service.settings, service.pages, answered.cards, answered.page)
        answered = replace(answered, cards=linked)
    return _cards(service, hook, answered, started)


@dataclass(frozen=True, slots=True)
class _Call:
    request: Request
    caller: str | None  # the CDS client's issuer (None: authentication is off)
    factory: ClientFactory  # the client factory for the FHIR servers this caller may name


async def _answer(service: Service, hook: HookService, raw: bytes, call: _Call) -> _Answered:
    if service.evaluators is not None:
        match await _evaluated_elsewhere(service, service.evaluators, hook, raw):
            case Evaluated(cards, cached, seconds, page):
                return _Answered(cards, cached, seconds, page)
            case Refused(error):
                raise error
            case NeedsServer() | NotStarted() | None:
                pass  # answered here
    when = datetime.now(UTC)
    hit, key = hooks.cached(hook, raw, service.catalogue, service.cache, when, service.settings.public_url)
    if hit is not None:
        return _Answered(hit.cards, cached=True, page=hit.page)
    body = parse_body(raw)

    def work(stop: threading.Event) -> hooks.HookResult:
        fetches = CallFetches(service.fetches, call.caller, call.factory, stop, service.settings.deadline)
        try:
            return hooks.call(
                hook,
                body,
                service.catalogue,
                client_factory=fetches.client,
                at=when,
                raw=raw,
                cache=service.cache,
                key=key,
                public_url=service.settings.public_url,
                page=service.pages is not None,
            )
        finally:
            fetches.release()

    result = await service.run_for(call.request, work)
    return _Answered(result.cards, result.cached, page=result.page)


async def _evaluated_elsewhere(
    service: Service, evaluators: Evaluators, hook: HookService, raw: bytes
) -> Answer | None:
    """An evaluator process's answer, or None when no evaluator could take the call."""
    try:
        return await service.within_deadline(evaluators.submit(hook.id, raw, page=service.pages is not None))
    except EvaluatorsBroken as exc:
        service.metrics.inc("evaluator_failures")
        log.error("%s: no evaluator answered (%s); answered in the service process", hook.id, exc)
        if exc.pool is not None:
            service.pool.submit(_restart, evaluators, exc.pool)  # meanwhile calls are answered here
        return None


def _restart(evaluators: Evaluators, broken: object) -> None:
    try:
        evaluators.restart(broken)
    except CatalogueError as exc:
        log.error("the evaluator processes could not be restarted (%s); hook calls are answered here", exc)
    else:
        log.warning("evaluator processes restarted")


def _cards(service: Service, hook: HookService, answered: _Answered, started: float) -> Response:
    """The 200 with the cards, counted and logged (no patient data: counts and timings)."""
    counted = [("hook_calls", {"service": hook.id, "status": "200"})]
    if answered.cached:
        counted.append(("hook_cache_hits", {"service": hook.id}))
    counted += [("cards", {"service": hook.id, "indicator": card["indicator"]}) for card in answered.cards]
    service.metrics.inc_all(counted)
    spent = f" ({1000 * answered.evaluating:.0f} ms evaluating)" if answered.evaluating is not None else ""
    elapsed = 1000 * (time.perf_counter() - started)
    log.info("%s: %d card(s) in %.0f ms%s", hook.id, len(answered.cards), elapsed, spent)
    return JSONResponse({"cards": answered.cards})
