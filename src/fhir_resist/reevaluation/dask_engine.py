"""Patients evaluated on a Dask cluster (``dask.distributed``): a scheduler's address, or a
LocalCluster started for the run.

The catalogue goes to each worker once, as its directory: a worker plugin loads it when the
worker joins (a worker that joins later loads it too), into a per-process cache that every task
on the worker uses. The directory must be readable at the same path on every worker (the
bundled catalogue is, wherever fhir_resist is installed). Patients travel in chunks, as plain
data; each chunk returns its patients' outcomes. A chunk that fails as a whole (its worker lost,
the scheduler gone) leaves its patients ``Failed`` with the reason; the other chunks go on.
"""

from __future__ import annotations

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


def evaluate_on_worker(tasks: list[Task], catalogue: str, options: Options) -> list[Outcome]:
    loaded = worker_catalogue(catalogue)
    return [evaluate_patient(patient, resources, loaded, options) for patient, resources in tasks]


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
        """The chunks are submitted now; their outcomes come as the iterator is read."""
        parts = chunks(tasks, self.workers)
        futures = [
            self.client.submit(evaluate_on_worker, part, self.catalogue, self.options, pure=False)
            for part in parts
        ]
        return self._collect(parts, futures)

    @staticmethod
    def _collect(parts: list[list[Task]], futures: list[Any]) -> Iterator[Outcome]:
        for part, future in zip(parts, futures, strict=True):
            try:
                outcomes: list[Outcome] = future.result()
            except Exception as exc:  # the chunk as a whole: a lost worker, a lost scheduler
                reason = f"not evaluated: the Dask task failed ({type(exc).__name__}: {exc})"
                outcomes = [Failed(patient, reason, internal=True) for patient, _ in part]
            yield from outcomes

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
