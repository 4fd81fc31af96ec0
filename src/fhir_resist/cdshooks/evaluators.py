"""Hook calls evaluated in a pool of worker processes.

Evaluating a call is CPU-bound Python (parse the prefetch, read it, assess, build cards), so in
one process concurrent calls take turns on one core. The service process therefore only takes
the HTTP request and hands the raw body to a pool of evaluator processes, one per core: calls
then run in parallel, and a call waits only while every evaluator is busy (a shared queue, so
no evaluator idles while another has a backlog). The body crosses as bytes and the cards come
back as JSON-ready data; each evaluator loads the catalogue once and keeps its own assessment
cache.

A call whose prefetch is incomplete needs the EHR's FHIR server: the evaluator says so at once,
and the service process answers it in its own threads, where waiting on the network costs no
core (a slow server must not stall the evaluators of every other call).

The service does not wait for its evaluators to start (each imports fhir_resist and loads the
catalogue: about a second on a busy machine): they start in the background, and until every one
has checked in, with the service's own catalogue, the service process answers hook calls itself.
Evaluators that load another catalogue than the service's, or none, are not used: the service
logs the error and goes on answering every call itself.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.cdshooks import hooks
from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.bodies import parse_body
from fhir_resist.cdshooks.hook_request import parse_request
from fhir_resist.cdshooks.hook_services import BY_ID
from fhir_resist.cdshooks.prefetch import needs_server
from fhir_resist.cdshooks.spent import Spent
from fhir_resist.cdshooks.tuning import tune_gc
from fhir_resist.cores import usable_cores
from fhir_resist.errors import CatalogueError, EvaluatorsBroken, HttpError

JSON = dict[str, Any]
log = logging.getLogger("fhir_resist.service")


@dataclass(frozen=True, slots=True)
class Evaluated:
    """The cards, whether the evaluator's cache answered, the seconds it spent on the call, and
    the patient page's model (plain JSON) when asked for."""

    cards: list[JSON]
    cached: bool
    seconds: float
    page: JSON | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The call refused (a malformed request, say): the error the service answers with."""

    error: HttpError


@dataclass(frozen=True, slots=True)
class NeedsServer:
    """The call must fetch from the EHR's FHIR server, which the service process does (waiting
    on a network is no work for a process sized to a core)."""


@dataclass(frozen=True, slots=True)
class NotStarted:
    """No evaluator has checked in yet (they are starting, or could not start, which was logged
    when they failed): the service process answers the call."""


Answer = Evaluated | Refused | NeedsServer | NotStarted  # what the evaluators say of a call


# The evaluator process's own state, set once by _start.
_catalogue: Catalogue | None = None
_cache: AssessmentCache | None = None
_started: Any = None  # a Barrier every evaluator meets at start-up
_public_url: str | None = None  # the service's external base URL (cards link the catalogue under it)
_spent = Spent()  # the last call's parsed request, freed by the next call or when idle (spent.py)


def _start(catalogue_path: str | None, hook_cache: int, started: Any, public_url: str | None) -> None:
    global _catalogue, _cache, _started, _public_url
    _started = started
    _public_url = public_url
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service process decides when to stop
    _catalogue = load_catalogue(catalogue_path)
    _catalogue.named_genes  # noqa: B018  # worked out now, not on the first call
    _cache = AssessmentCache(hook_cache)
    _spent.start()
    tune_gc()


_START_TIMEOUT = 120.0  # seconds for every evaluator to start (import, load the catalogue)


def _check_in() -> str:
    """The start-up task: it returns this evaluator's catalogue version once every evaluator has
    taken one such task (so each is started and checked, none twice)."""
    assert _catalogue is not None
    _started.wait(timeout=_START_TIMEOUT)
    return _catalogue.version


def evaluate(service_id: str, raw: bytes, page: bool = False) -> Answer:
    """One hook call, from the raw request body to the cards (or the refusal), with the patient
    page's model when ``page``. A call the cache answers is answered from its bytes, unparsed."""
    assert _catalogue is not None
    started = time.perf_counter()
    service = BY_ID[service_id]
    when = datetime.now(UTC)
    key = None
    if _cache is not None:
        hit, key = hooks.cached(service, raw, _catalogue, _cache, when, _public_url)
        if hit is not None:
            return Evaluated(hit.cards, True, time.perf_counter() - started, hit.page)
    body: Any = None
    _spent.take()  # the last call's request, freed before this one's is parsed
    try:
        body = parse_body(raw)
        if needs_server(parse_request(body, service)):
            return NeedsServer()
        result = hooks.call(
            service,
            body,
            _catalogue,
            at=when,
            raw=raw,
            cache=_cache,
            key=key,
            public_url=_public_url,
            page=page,
        )
    except HttpError as exc:
        return Refused(exc)
    finally:
        _spent.park(body)
        del body
    return Evaluated(result.cards, result.cached, time.perf_counter() - started, result.page)


class Evaluators:
    """The pool: ``processes`` evaluator processes, each checked to hold the service's catalogue.

    ``wait``: started and checked before the constructor returns (a ``CatalogueError`` when they
    fail); otherwise they start in the background, calls are ``NotStarted`` until they have all
    checked in, and a failure is logged and leaves every call ``NotStarted``.

    An evaluator that dies (killed, out of memory) breaks the pool: the call it had is answered
    by the service process instead (``EvaluatorsBroken``), and a new pool is started and checked. Until
    one has started, ``submit`` raises ``EvaluatorsBroken`` too.
    """

    def __init__(
        self,
        processes: int,
        catalogue: Catalogue,
        catalogue_path: Path | None,
        hook_cache: int,
        *,
        wait: bool = True,
        public_url: str | None = None,
    ):
        self.processes = processes
        self.restarts = 0
        self.failure: CatalogueError | None = None  # why the evaluators could not start
        self._catalogue = catalogue
        self._catalogue_path = catalogue_path
        self._hook_cache = hook_cache
        self._public_url = public_url
        self._lock = threading.Lock()
        self._closed = False
        self._checked_in = threading.Event()  # set when the first start has ended, well or not
        self._pool: ProcessPoolExecutor | None = None
        self._starter: threading.Thread | None = None
        if wait:
            self._pool = self._started()
            self._checked_in.set()
        else:
            self._starter = threading.Thread(target=self._start, name="fhir-resist-evaluators", daemon=True)
            self._starter.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Waits until the first start has ended; whether the evaluators are in use."""
        self._checked_in.wait(timeout)
        return self._pool is not None

    @property
    def state(self) -> str:
        """``starting``, ``ready``, ``not used`` (they could not start; logged), ``restarting`` or
        ``stopped``."""
        if self._closed:
            return "stopped"
        if self._pool is not None:
            return "ready"
        if not self._checked_in.is_set():
            return "starting"
        return "not used" if self.failure is not None else "restarting"

    def _start(self) -> None:
        try:
            pool = self._started()
        except CatalogueError as exc:
            self.failure = exc
            log.error(
                "the evaluator processes are not used, hook calls are all answered in the service "
                "process: %s",
                "; ".join(exc.problems),
            )
            self._checked_in.set()
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self._pool = pool
        self._checked_in.set()
        if closed:  # the service stopped meanwhile
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            log.info("%d evaluator processes ready (catalogue %s)", self.processes, self._catalogue.version)

    def _started(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=context,
            initializer=_start,
            initargs=(
                str(self._catalogue_path) if self._catalogue_path else None,
                self._hook_cache,
                context.Barrier(self.processes),
                self._public_url,
            ),
        )
        # start every evaluator now, not on the first calls, and check each read the same catalogue
        where = str(self._catalogue_path or "the default catalogue")
        try:
            versions = {f.result() for f in [pool.submit(_check_in) for _ in range(self.processes)]}
        except (BrokenProcessPool, threading.BrokenBarrierError):
            pool.shutdown(cancel_futures=True)
            raise CatalogueError([f"{where}: the evaluator processes could not load it"]) from None
        if versions != {self._catalogue.version}:
            pool.shutdown(cancel_futures=True)
            raise CatalogueError(
                [
                    f"{where}: the evaluator processes loaded catalogue {', '.join(sorted(versions))}, "
                    f"the service {self._catalogue.version}"
                ]
            )
        return pool

    def submit(self, service_id: str, raw: bytes, *, page: bool = False) -> Future[Answer]:
        """The call, on its way to an evaluator (``page``: the patient page's model wanted too);
        ``EvaluatorsBroken`` when there is no working pool."""
        pool = self._pool
        if pool is None:
            if not self._checked_in.is_set() or self.failure is not None:
                return _done(NotStarted())
            raise EvaluatorsBroken("no evaluator processes (being restarted)")
        try:
            future = pool.submit(evaluate, service_id, raw, page)
        except (BrokenProcessPool, RuntimeError) as exc:  # RuntimeError: shut down meanwhile
            raise EvaluatorsBroken(str(exc), pool) from exc
        return _translated(future, pool)

    def restart(self, broken: object) -> None:
        """Replace the broken pool with a new, checked one; a pool already replaced is left be."""
        with self._lock:
            pool = self._pool
            if pool is None or pool is not broken:
                return
            self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._started()
            self.restarts += 1

    def close(self) -> None:
        """Stops the evaluators (once those still starting have started)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._starter is not None:
            self._starter.join()


def _done(answer: Answer) -> Future[Answer]:
    done: Future[Answer] = Future()
    done.set_result(answer)
    return done


def _translated(future: Future[Answer], pool: ProcessPoolExecutor) -> Future[Answer]:
    """The future, with the pool breaking under it reported as ``EvaluatorsBroken``."""
    out: Future[Answer] = Future()

    def done(f: Future[Answer]) -> None:
        if f.cancelled():  # the pool was shut down under it
            out.set_exception(EvaluatorsBroken("the evaluators were stopped"))
            return
        exc = f.exception()
        if isinstance(exc, BrokenProcessPool):
            out.set_exception(EvaluatorsBroken(str(exc), pool))
        elif exc is not None:
            out.set_exception(exc)
        else:
            out.set_result(f.result())

    future.add_done_callback(done)
    return out


__all__ = ["Answer", "Evaluated", "Evaluators", "NeedsServer", "NotStarted", "Refused", "usable_cores"]
