"""Where the patients are evaluated: this process, worker processes, or a Dask cluster.

Every engine runs exactly ``batch.evaluate_patient`` (the pure per-patient evaluation of
``evaluate`` and ``evaluate --all-patients``) with a catalogue loaded once per worker from its
directory (its compiled cache makes that some 12 ms): the catalogue itself is never shipped, as
it cannot be pickled. Patients go in chunks; what comes back is each patient's ``Outcome``
(a JSON-ready Bundle and a few counts, or ``Failed`` with the reason), in the order given.

- ``InProcess``: one worker, this process (no start-up cost).
- ``LocalPool``: ``batch.worker_pool``, spawned processes kept open across partitions; a worker
  that dies leaves its patients ``Failed`` and a new pool takes the next partition.
- ``DaskEngine`` (``dask_engine.py``): a ``dask.distributed`` scheduler, or a LocalCluster.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Protocol

from fhir_resist.batch import Failed, Options, Outcome, evaluate_chunk, evaluate_patient, worker_pool

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

Task = tuple[str, list[Mapping[str, Any]]]  # Patient/id and its resources
BROKEN = "not evaluated: a worker process stopped (killed, or out of memory?)"


class Engine(Protocol):
    workers: int

    def evaluate(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """One outcome per task, in the tasks' order. Engines with workers send the tasks when
        called, so that work goes on while the caller prepares the next partition."""
        ...  # pragma: no cover - a protocol

    def close(self) -> None: ...  # pragma: no cover - a protocol


def chunks(tasks: Sequence[Task], workers: int) -> list[list[Task]]:
    """Small chunks (at most 8 patients; about four per worker at least), as ``batch`` cuts them."""
    size = max(1, min(8, len(tasks) // (workers * 4)))
    return [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]


class InProcess:
    """Every patient in this process, with the catalogue loaded once."""

    workers = 1

    def __init__(self, catalogue: str, options: Options) -> None:
        from fhir_resist.catalogue import load_catalogue

        self.catalogue = load_catalogue(catalogue)
        self.options = options

    def evaluate(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        for patient, resources in tasks:
            yield evaluate_patient(patient, resources, self.catalogue, self.options)

    def close(self) -> None:
        return None


class LocalPool:
    """``workers`` processes on this machine, kept for the whole run."""

    def __init__(self, workers: int, catalogue: str, options: Options) -> None:
        self.workers, self.catalogue, self.options = workers, catalogue, options
        self._pool: ProcessPoolExecutor | None = None

    def evaluate(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """The tasks are sent to the workers now; their outcomes come as the iterator is read (so
        the caller can prepare the next partition meanwhile)."""
        if self._pool is None:
            self._pool = worker_pool(self.workers, self.catalogue, self.options)
        try:
            results = self._pool.map(evaluate_chunk, chunks(tasks, self.workers))
        except BrokenProcessPool:  # the pool broke since the last partition
            results = iter(())
            broken_now = True
        else:
            broken_now = False
        return self._collect(tasks, results, broken_now)

    def _collect(
        self, tasks: Sequence[Task], results: Iterator[list[Outcome]], broken: bool
    ) -> Iterator[Outcome]:
        done = 0
        try:
            if broken:
                raise BrokenProcessPool
            for outcomes in results:
                for outcome in outcomes:
                    done += 1
                    yield outcome
        except BrokenProcessPool:
            self.close()  # the next partition starts a new pool
            for patient, _ in tasks[done:]:
                yield Failed(patient, BROKEN, internal=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def local_engine(workers: int, catalogue: str, options: Options) -> Engine:
    return InProcess(catalogue, options) if workers <= 1 else LocalPool(workers, catalogue, options)
