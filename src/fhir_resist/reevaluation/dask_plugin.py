"""The worker plugin that loads the catalogue on each Dask worker once (imported with distributed)."""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

from fhir_resist.reevaluation.dask_engine import worker_catalogue


class CatalogueOnWorkers(WorkerPlugin):
    """On each worker, as it starts or joins: the catalogue of ``directory`` loaded into the
    worker process's cache, so that the first patient does not wait for it."""

    name = "fhir-resist-catalogue"

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def setup(self, worker: Any) -> None:
        worker_catalogue(self.directory)
