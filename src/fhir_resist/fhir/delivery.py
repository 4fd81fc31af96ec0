"""Delivery: one evaluation's transaction Bundle to the FHIR server, exactly once, or to the outbox.

``deliver`` is the only place that decides what happens to a computed result:
1. Under a lock per server and patient (threads of this process, and other processes sharing
   the outbox), so that two evaluations of one patient never interleave — this is what makes
   the ``conditional`` strategy safe against HAPI's conditional-create race.
2. Reads the patient's earlier DetectedIssues with our identifier and adds a versioned update
   cancelling those this evaluation no longer raises (``write.withdrawals``).
3. Sends one transaction. A 409 (someone changed an issue meanwhile) is retried once with fresh
   versions. The client has already retried what a retry can fix.
4. If it still fails, the Bundle (without the withdrawals, which are recomputed at retry) goes
   to the outbox: ``pending`` when the server failed, ``rejected`` with the server's
   OperationOutcome when it refused. Nothing computed is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fhir_resist import terminology
from fhir_resist.engine.model import Assessment
from fhir_resist.errors import ServerError
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.outbox import Outbox, OutboxItem, Scope, State
from fhir_resist.fhir.write import withdrawals

JSON = dict[str, Any]
Outcome = Literal["delivered", "queued", "rejected"]


@dataclass(slots=True)
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0  # deliveries holding or waiting for the lock


class _PatientLocks:
    """One lock per (server, patient), kept only while a delivery holds or waits for it.

    Each entry counts its users and is removed when the last one leaves, so the table holds the
    patients being delivered now, not every patient this process has ever delivered.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)

    @contextmanager
    def hold(self, base: str, patient: str) -> Iterator[None]:
        key = (base, patient)
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            entry.users += 1
        try:
            with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[key]


_locks = _PatientLocks()


@dataclass(frozen=True, slots=True)
class Written:
    """One entry of the server's transaction-response."""

    resource_type: str
    status: str
    location: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: Outcome
    server: str
    key: str
    written: tuple[Written, ...] = ()
    withdrawn: tuple[str, ...] = ()
    error: str | None = None
    outbox_path: Path | None = None

    @property
    def created(self) -> int:
        return sum(1 for w in self.written if w.status.startswith("201"))

    @property
    def unchanged_or_updated(self) -> int:
        return sum(1 for w in self.written if w.status.startswith("200"))

    def as_json(self) -> JSON:
        return {
            "outcome": self.outcome,
            "server": self.server,
            "key": self.key,
            "written": [
                {"resourceType": w.resource_type, "status": w.status, "location": w.location}
                for w in self.written
            ],
            "withdrawn": list(self.withdrawn),
            "error": self.error,
            "outbox": str(self.outbox_path) if self.outbox_path else None,
        }


def scope_of(assessment: Assessment) -> Scope:
    return Scope(assessment.patient, assessment.therapies)


def key_of(bundle: JSON) -> str:
    """The evaluation id carried by the bundle's GuidanceResponse (the outbox key)."""
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "GuidanceResponse":
            for ident in resource.get("identifier") or []:
                if ident.get("system") == terminology.NS_EVALUATION and isinstance(ident.get("value"), str):
                    return str(ident["value"])
    raise ValueError("the bundle has no GuidanceResponse with an evaluation identifier")


def deliver(client: FhirClient, bundle: JSON, scope: Scope, outbox: Outbox) -> Delivery:
    key = key_of(bundle)
    with (
        _locks.hold(client.base, scope.patient or key),
        outbox.lock(f"{client.base}|{scope.patient or key}"),
    ):
        error: ServerError | None = None
        for _ in range(2):
            try:
                withdrawal_entries = _withdrawals(client, bundle, scope)
                response = client.transaction(
                    {**bundle, "entry": [*bundle.get("entry", []), *withdrawal_entries]}
                )
            except ServerError as exc:
                error = exc
                if exc.status == 409:
                    continue
                break
            return Delivery(
                "delivered",
                client.base,
                key,
                written=_written(bundle, withdrawal_entries, response),
                withdrawn=tuple(e["request"]["url"] for e in withdrawal_entries),
            )
        assert error is not None
        state: State = "pending" if error.retryable or error.status == 409 else "rejected"
        path = outbox.put(
            key,
            bundle,
            server=client.base,
            scope=scope,
            error=str(error),
            state=state,
            outcome=error.outcome,
            attempts=error.attempts,
        )
        return Delivery(
            "queued" if state == "pending" else "rejected",
            client.base,
            key,
            error=str(error),
            outbox_path=path,
        )


def retry(
    client_for: Callable[[str], FhirClient], outbox: Outbox, *, include_rejected: bool = False
) -> list[tuple[OutboxItem, Delivery]]:
    """Send every pending item again (and rejected ones when asked); delivered items leave the outbox.

    ``client_for(server_url) -> FhirClient`` builds the client for the server an item was meant for.
    """
    results: list[tuple[OutboxItem, Delivery]] = []
    items, _ = outbox.items()
    for item in items:
        if item.state == "rejected" and not include_rejected:
            continue
        delivery = deliver(client_for(item.server), item.bundle, item.scope, outbox)
        if delivery.outcome == "delivered":
            outbox.remove(item)
        results.append((item, delivery))
    return results


def _withdrawals(client: FhirClient, bundle: JSON, scope: Scope) -> list[JSON]:
    if not scope.patient or not scope.therapies:
        return []
    existing = client.search(
        "DetectedIssue", [("patient", scope.patient), ("identifier", f"{terminology.NS_FINDING}|")]
    )
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return withdrawals(
        existing, bundle, patient=scope.patient, therapies=scope.therapies, base=client.base, at=at
    )


def _written(bundle: JSON, extra: list[JSON], response: JSON) -> tuple[Written, ...]:
    sent = [*bundle.get("entry", []), *extra]
    out = []
    for request, answer in zip(sent, response.get("entry") or [], strict=False):
        reply = answer.get("response") or {}
        out.append(
            Written(
                str((request.get("resource") or {}).get("resourceType")),
                str(reply.get("status", "")),
                reply.get("location"),
            )
        )
    return tuple(out)
