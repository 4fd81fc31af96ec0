"""Many patients evaluated on every core: ``evaluate_many``.

Each patient is evaluated exactly as ``fhir_resist.evaluate`` evaluates them alone (the same
pure function, on their own resources), in a pool of worker processes started with ``spawn``:
each worker loads the catalogue once (from its compiled cache, about 12 ms), sets its garbage
collector as the service's evaluators do, and takes patients in small chunks from one queue.
What crosses between processes is plain data: each patient's resources on the way there, and
on the way back a JSON-ready transaction Bundle with a few counts (never the Assessment, which
holds the catalogue). Results come back in the order of the patients' ids, whatever order the
workers finish in.

One patient's bad input does not stop the others: it comes back as ``Failed`` with the reason
(so does a defect met on one patient's input, marked ``internal``). A worker process that dies
(killed, out of memory) leaves the patients not yet returned ``Failed``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from fhir_resist.cores import usable_cores
from fhir_resist.errors import FhirResistError, InputError
from fhir_resist.fhir.write.strategies import WriteStrategy

if TYPE_CHECKING:
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.domain import PatientContext

JSON = dict[str, Any]
Render = Literal["json", "summary"]


@dataclass(frozen=True, slots=True)
class Options:
    """How every patient is evaluated and written: the evaluation time, the write strategy of
    the Bundle (``put`` or ``conditional``) and what ``text`` holds."""

    at: datetime
    strategy: WriteStrategy = "put"
    render: Render | None = None
    # Whether the resources may hold lone UTF-16 surrogates (what ``json.load`` makes of "\\ud800")
    # to repair, as the Python API does; False for what ``files.read_files`` read (repaired then).
    repair_unicode: bool = True
    # False: with ``render``, an outcome's ``bundle`` is left empty ({}) and only its ``text`` comes
    # back (from worker processes: a quarter less to send, and nothing to rebuild), for a caller
    # that keeps the text alone.
    keep_bundle: bool = True


# Patients given as {patient: resources} or as (patient, resources) pairs; a patient is ``ID`` or
# ``Patient/ID``.
Population = Mapping[str, Iterable[Mapping[str, Any]]] | Iterable[tuple[str, Iterable[Mapping[str, Any]]]]


@dataclass(frozen=True, slots=True)
class Evaluated:
    """One patient's result: the transaction Bundle (as ``to_bundle`` writes it) and what a
    summary line needs. ``text``: the Bundle as indented JSON or the readable summary, when asked."""

    patient: str  # Patient/ID
    bundle: JSON
    status: str
    findings: int
    issues: int
    errors: int  # messages of severity error about the input
    therapies: tuple[str, ...]
    cancer_type_in_doubt: bool
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """A patient not evaluated, and why. ``internal``: a defect in fhir_resist, not the input."""

    patient: str
    reason: str
    internal: bool = False


Outcome = Evaluated | Failed


def default_workers() -> int:
    """The cores this process may use (``cores.usable_cores``: its CPUs, within its CPU quota)."""
    return usable_cores()


def evaluate_many(
    population: Population,
    *,
    workers: int | None = None,
    catalogue: Catalogue | str | os.PathLike[str] | None = None,
    at: datetime | None = None,
    strategy: WriteStrategy = "put",
    render: Render | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Evaluate each patient's resources; one outcome per patient, sorted by patient id.

    ``workers``: processes to use (default: every core this process may use; with 1, or a
    single patient, the patients are evaluated in this process). ``catalogue``: the catalogue's
    directory (each worker loads it from its compiled cache), default the configured one; a
    loaded Catalogue only in this process (``workers=1``). ``at``: the evaluation time for every
    patient (default: now). ``strategy``: the Bundles' write strategy, as ``to_bundle`` takes it.
    ``progress`` is called with each outcome as it arrives. A mixed input is grouped first with
    ``group_by_patient``.
    """
    options = Options(at if at is not None else datetime.now(UTC), strategy, render)
    return list(iter_evaluated(population, options, workers=workers, catalogue=catalogue, progress=progress))


def iter_evaluated(
    population: Population,
    options: Options,
    *,
    workers: int | None = None,
    catalogue: Catalogue | str | os.PathLike[str] | None = None,
    progress: Callable[[Outcome], None] | None = None,
    started: Workers | None = None,
) -> Iterator[Outcome]:
    """``evaluate_many`` one outcome at a time, in patient-id order, each as soon as it and those
    before it are ready. ``started``: worker processes started ahead with the same options
    (``start_workers``), used instead of starting others; the caller stops them."""
    from fhir_resist.catalogue import Catalogue, default_path, load_catalogue

    if started is not None and started.options != options:
        raise ValueError("the worker processes were started with other options")
    with _batch_collector():
        tasks = _tasks(population)
        count = min(workers if workers is not None else default_workers(), len(tasks))
        if started is not None:
            yield from _told(_in_pool(tasks, started), progress)
        elif count <= 1:
            loaded = catalogue if isinstance(catalogue, Catalogue) else load_catalogue(catalogue)
            yield from _told(_in_process(tasks, loaded, options), progress)
        elif isinstance(catalogue, Catalogue):
            raise TypeError(
                "worker processes load the catalogue themselves: give its directory, or workers=1"
            )
        else:
            with start_workers(count, str(catalogue or default_path()), options) as pool:
                yield from _told(_in_pool(tasks, pool), progress)


def _told(outcomes: Iterable[Outcome], progress: Callable[[Outcome], None] | None) -> Iterator[Outcome]:
    for outcome in outcomes:
        if progress is not None:
            progress(outcome)
        yield outcome


def _tasks(population: Population) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The patients, each with its resources as a list, sorted by id; a patient given twice is
    refused (which of the two would be the record?)."""
    pairs = population.items() if isinstance(population, Mapping) else population
    tasks: dict[str, list[Mapping[str, Any]]] = {}
    for patient, resources in pairs:
        key = patient if patient.startswith("Patient/") else f"Patient/{patient}"
        if key in tasks:
            raise InputError(f"{key} is given twice", where="population")
        tasks[key] = list(resources)
    return sorted(tasks.items())


# --------------------------------------------------------------------------- evaluating one patient


def evaluate_patient(
    patient: str, resources: Sequence[Mapping[str, Any]], catalogue: Catalogue, options: Options
) -> Outcome:
    """One patient, exactly as ``fhir_resist.evaluate(resources, patient=...)`` evaluates them,
    with the Bundle written; never raises (a failure is the outcome)."""
    from fhir_resist.fhir.addresses import is_fhir_id

    if not is_fhir_id(patient.removeprefix("Patient/")):
        return Failed(patient, "the patient's id is not a FHIR id (letters, digits, '-' and '.', at most 64)")
    try:
        return _evaluated(patient, resources, catalogue, options)
    except FhirResistError as exc:
        return Failed(patient, str(exc))
    except Exception as exc:  # a defect met on this patient's input; the others go on
        return Failed(
            patient, f"internal error ({type(exc).__name__}: {exc}); please report it", internal=True
        )


def _read(
    resources: Sequence[Mapping[str, Any]], patient: str, catalogue: Catalogue, *, repair_unicode: bool
) -> PatientContext:
    """The patient's context, read as ``fhir_resist.read_context`` reads it; the walk that repairs
    lone surrogates is skipped for input that was read through ``files.parse_json``."""
    from fhir_resist.api import read_context
    from fhir_resist.fhir.read import read_context as read_as_given

    if repair_unicode:
        return read_context(resources, patient=patient, catalogue=catalogue)
    return read_as_given(resources, patient=patient, rules=catalogue.reading)


def _evaluated(
    patient: str, resources: Sequence[Mapping[str, Any]], catalogue: Catalogue, options: Options
) -> Outcome:
    from fhir_resist.domain import Severity
    from fhir_resist.engine.assess import CANCER_TYPE, assess
    from fhir_resist.fhir.write import to_bundle

    context = _read(resources, patient, catalogue, repair_unicode=options.repair_unicode)
    if patient not in context.patients:
        return Failed(patient, f"{patient} is not named in its resources")
    assessment = assess(context, catalogue, options.at)
    bundle = to_bundle(assessment, strategy=options.strategy)
    return Evaluated(
        patient=patient,
        bundle=bundle if options.keep_bundle or options.render is None else {},
        status=assessment.status.value,
        findings=len(assessment.findings),
        issues=len(assessment.issues),
        errors=sum(1 for m in assessment.messages if m.severity is Severity.ERROR),
        therapies=assessment.therapies,
        cancer_type_in_doubt=any(m.where == CANCER_TYPE for m in assessment.messages),
        text=_rendered(assessment, bundle, options.render),
    )


def _rendered(assessment: Any, bundle: JSON, render: Render | None) -> str | None:
    if render == "json":
        from fhir_resist.files import indented_json

        return indented_json(bundle)
    if render == "summary":
        from fhir_resist.render import summary

        return summary(assessment)
    return None


# --------------------------------------------------------------------------- in this process


@contextmanager
def _batch_collector() -> Iterator[None]:
    """The collector set as the service's while a batch runs in the caller's process, and the
    caller's setting restored after. Each patient allocates some ten thousand objects (default
    thresholds collect every 700), and what the caller holds (often the whole population's
    resources, millions of objects) is frozen out of collection meanwhile: otherwise a single
    full collection walks all of it (measured: 2.4 s for 1,000 50-variant patients, more than
    a third of evaluating them). Unfrozen after, unless the caller froze objects itself (as the
    service and the CLI do): then what it froze is its own to keep frozen."""
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


def _in_process(
    tasks: list[tuple[str, list[Mapping[str, Any]]]], catalogue: Catalogue, options: Options
) -> Iterator[Outcome]:
    for patient, resources in tasks:
        yield evaluate_patient(patient, resources, catalogue, options)


# --------------------------------------------------------------------------- in worker processes

_worker: tuple[Catalogue, Options] | None = None  # a worker process's own state


def _start(catalogue: str, options: Options) -> None:
    global _worker
    from fhir_resist.catalogue import load_catalogue
    from fhir_resist.cdshooks.tuning import tune_gc

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _worker = (load_catalogue(catalogue), options)
    tune_gc()


def _chunk(tasks: list[tuple[str, list[Mapping[str, Any]]]]) -> list[Outcome]:
    assert _worker is not None
    catalogue, options = _worker
    return [evaluate_patient(patient, resources, catalogue, options) for patient, resources in tasks]


class Workers:
    """Worker processes, each started (interpreter, imports, the catalogue from its cache) as soon
    as this is made: a caller that reads its input meanwhile has them ready when it is read.
    Stopped by ``close`` (or leaving the ``with`` block)."""

    def __init__(self, workers: int, catalogue: str, options: Options) -> None:
        self.workers, self.options = workers, options
        context = multiprocessing.get_context("spawn")
        self.pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start, initargs=(catalogue, options)
        )
        for _ in range(workers):  # a process is spawned for each task while none is idle
            self.pool.submit(_started)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_workers(workers: int, catalogue: str, options: Options) -> Workers:
    """``workers`` processes evaluating with ``options`` and the catalogue at ``catalogue`` (a
    directory), starting now; give them to ``iter_evaluated`` as ``started``."""
    return Workers(workers, catalogue, options)


def _started() -> None:
    """The task that makes a worker start."""


def _in_pool(tasks: list[tuple[str, list[Mapping[str, Any]]]], workers: Workers) -> Iterator[Outcome]:
    """The patients in chunks over the workers; outcomes in the tasks' order."""
    size = max(1, min(8, len(tasks) // (workers.workers * 4)))
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    done = 0
    try:
        for outcomes in workers.pool.map(_chunk, chunks):
            for outcome in outcomes:
                done += 1
                yield outcome
    except BrokenProcessPool:
        reason = "not evaluated: a worker process stopped (killed, or out of memory?)"
        for patient, _ in tasks[done:]:
            yield Failed(patient, reason, internal=True)


# --------------------------------------------------------------------------- a pool kept open


def worker_pool(workers: int, catalogue: str, options: Options) -> ProcessPoolExecutor:
    """``workers`` spawned processes, each with the catalogue loaded once, for ``evaluate_chunk``:
    a pool its caller keeps open across batches (``reevaluate`` sends it one partition at a time)."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(catalogue, options))


def evaluate_chunk(tasks: list[tuple[str, list[Mapping[str, Any]]]]) -> list[Outcome]:
    """In a ``worker_pool`` process: each patient evaluated with that worker's catalogue."""
    return _chunk(tasks)
