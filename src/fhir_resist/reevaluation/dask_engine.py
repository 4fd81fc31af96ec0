"""Patients evaluated on a Dask cluster (``dask.distributed``): a scheduler's address, or a
LocalCluster started for the run.

The catalogue goes to each worker once, as its directory: a worker plugin loads it when the
worker joins (a worker that joins later loads it too), into a per-process cache that every task
on the worker uses. The directory must be readable at the same path on every worker (the
bundled catalogue is, wherever fhir_resist is installed). Patients travel in chunks, scattered
to the workers as data of their own (``client.scatter``): the tasks the scheduler receives and
sends name a chunk by its key, never carry the patients' resources. A chunk is one pickled blob:
a worker measures what it holds (``dask.sizeof``), and measuring a chunk of nested resources,
object by object, cost it more CPU than evaluating them. The scheduler keeps its
recent messages for debugging (``distributed.admin.low-level-log-length``, 1,000 a connection),
and with a LocalCluster it runs in this process: resources sent inside tasks stayed there, and
went through it twice (unpickled, pickled again). Each chunk returns its patients' outcomes, and
its futures are released as soon as they are read, so the cluster holds nothing of a partition
that was consumed. A chunk that fails as a whole (its worker lost, the scheduler gone) is sent
once more; failing again, it leaves its patients ``Failed`` with the reason; the other chunks go on.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from fhir_resist.batch import Failed, Options, Outcome, evaluate_patient
from fhir_resist.errors import InputError
from fhir_resist.reevaluation.engines import Task, chunks

if TYPE_CHECKING:
    from fhir_resist.catalogue import Catalogue

SCHEMES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")
_catalogues: dict[str, Catalogue] = {}  # a worker process's catalogues, by directory
_lock = threading.Lock()


def worker_catalogue(directory: str) -> Catalogue:
    """The catalogue of ``directory``, loaded once in this process (workers run tasks in threads)."""
    with _lock:
        if directory not in _catalogues:
            from fhir_resist.catalogue import load_catalogue

            _catalogues[directory] = load_catalogue(directory)
        return _catalogues[directory]


def evaluate_on_worker(chunk: bytes, catalogue: str, options: Options) -> list[Outcome]:
    """A chunk of patients (as ``pickled`` made it) evaluated with this worker's catalogue."""
    loaded = worker_catalogue(catalogue)
    tasks: list[Task] = pickle.loads(chunk)  # noqa: S301 - our own client's chunk
    return [evaluate_patient(patient, resources, loaded, options) for patient, resources in tasks]


def pickled(part: list[Task]) -> bytes:
    """A chunk as the workers get it: one blob, whose size Dask reads without walking it."""
    return pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)


def _failed(parts: list[list[Task]], exc: Exception) -> Iterator[Outcome]:
    reason = f"not evaluated: the Dask task failed ({type(exc).__name__}: {exc})"
    return iter([Failed(patient, reason, internal=True) for part in parts for patient, _ in part])


def check_address(scheduler: str) -> None:
    """``local`` or a scheduler address (``tcp://host:8786``); else ``InputError``."""
    if scheduler != "local" and not (scheduler.startswith(SCHEMES) and len(scheduler.split("://", 1)[1]) > 0):
        raise InputError(
            f"'{scheduler}' is not a Dask scheduler: 'local', or an address such as tcp://host:8786",
            where="scheduler",
        )


class DaskEngine:
    """A ``dask.distributed`` Client on ``scheduler`` (``local``: a LocalCluster of ``workers``
    processes, or threads with ``processes=False``, one thread each)."""

    def __init__(
        self,
        scheduler: str,
        workers: int,
        catalogue: str,
        options: Options,
        *,
        processes: bool = True,
        connect_timeout: float = 10.0,
    ) -> None:
        check_address(scheduler)
        import distributed

        from fhir_resist.reevaluation.dask_plugin import CatalogueOnWorkers

        self.catalogue, self.options = catalogue, options
        self._cluster: Any = None
        client: Any = distributed.Client  # distributed's functions are untyped
        cluster: Any = distributed.LocalCluster
        if scheduler == "local":
            self._cluster = cluster(
                n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None
            )
            self.client: Any = client(self._cluster)
        else:
            try:
                self.client = client(scheduler, timeout=connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"no Dask scheduler answers at {scheduler} ({exc})", where="scheduler"
                ) from None
        self.client.register_plugin(CatalogueOnWorkers(catalogue))
        self.workers = max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))

    def evaluate(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """The chunks are scattered and submitted now; their outcomes come as the iterator is read."""
        parts = chunks(tasks, self.workers)
        try:  # in one call, spread over the workers
            data = self.client.scatter([pickled(part) for part in parts], hash=False) if parts else []
        except Exception as exc:  # no worker to take them, the scheduler gone
            return _failed(parts, exc)
        return self._collect(parts, [(chunk, self._submit(chunk)) for chunk in data])

    def _submit(self, chunk: Any) -> Any:
        return self.client.submit(evaluate_on_worker, chunk, self.catalogue, self.options, pure=False)

    def _send(self, part: list[Task]) -> tuple[Any, Any]:
        """The chunk scattered again, and the task that evaluates it."""
        [chunk] = self.client.scatter([pickled(part)], hash=False)
        return chunk, self._submit(chunk)

    def _collect(self, parts: list[list[Task]], sent: list[tuple[Any, Any]]) -> Iterator[Outcome]:
        """Each chunk's outcomes, its futures released once read. A chunk that failed is sent once
        more: scattered data has no lineage, so a worker lost takes its chunks with it, which Dask
        would otherwise recompute."""
        for part in parts:
            try:
                outcomes = self._outcomes(*sent.pop(0))
            except Exception:
                try:
                    outcomes = self._outcomes(*self._send(part))
                except Exception as exc:  # the chunk as a whole, twice: the scheduler gone, a defect
                    outcomes = list(_failed([part], exc))
            yield from outcomes

    @staticmethod
    def _outcomes(chunk: Any, future: Any) -> list[Outcome]:
        try:
            outcomes: list[Outcome] = future.result()
        finally:
            future.release()
            chunk.release()
        return outcomes

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
