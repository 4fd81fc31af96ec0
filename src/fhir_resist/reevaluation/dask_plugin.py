"""The worker plugin that loads the catalogue on each Dask worker once (imported with distributed)."""

from __future__ import annotations

import multiprocessing
from typing import Any

from distributed import WorkerPlugin

from fhir_resist.cdshooks.tuning import tune_gc
from fhir_resist.reevaluation.dask_engine import worker_catalogue


class CatalogueOnWorkers(WorkerPlugin):
    """On each worker, as it starts or joins: the catalogue of ``directory`` loaded into the
    worker process's cache, so that the first patient does not wait for it; then, in a worker
    process of its own (started by a nanny, as a LocalCluster's and ``dask worker``'s are), the
    garbage collector tuned as the local engine's workers are: without it, full collections walk
    the catalogue again and again, and a Dask worker spent three times their CPU a patient."""

    name = "fhir-resist-catalogue"

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def setup(self, worker: Any) -> None:
        worker_catalogue(self.directory)
        if own_process():
            tune_gc()


def own_process() -> bool:
    """Whether this worker runs in a process started for it (not in the client's, as a LocalCluster
    of threads does, whose collector is the caller's to set)."""
    return multiprocessing.parent_process() is not None
