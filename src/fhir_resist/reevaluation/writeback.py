"""The changed results written back: ``fhir.delivery.deliver`` for each, a few at a time.

Each patient's result is one transaction, written ahead to the outbox and sent under the
patient's lock, exactly as ``evaluate --write`` sends one: a failed send stays in the outbox for
``outbox retry``, and the product's deterministic ids (``put``) or conditional creates mean that
sending a result again never makes a duplicate. ``concurrency`` deliveries run at once (threads:
the work is waiting on the server).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fhir_resist.batch import Evaluated
    from fhir_resist.fhir.client import FhirClient
    from fhir_resist.fhir.delivery import Delivery
    from fhir_resist.fhir.outbox import Outbox

CONCURRENCY = 4


class WriteBack:
    def __init__(self, client: FhirClient, outbox: Outbox, concurrency: int = CONCURRENCY) -> None:
        self.client, self.outbox = client, outbox
        self._pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="fhir-resist-write")

    def deliver(self, results: Sequence[Evaluated]) -> list[Delivery]:
        """Each result delivered; one ``Delivery`` per result, in their order."""
        return list(self._pool.map(self._one, results))

    def _one(self, result: Evaluated) -> Delivery:
        from fhir_resist.fhir.delivery import deliver
        from fhir_resist.fhir.outbox import Scope

        return deliver(self.client, result.bundle, Scope(result.patient, result.therapies), self.outbox)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
