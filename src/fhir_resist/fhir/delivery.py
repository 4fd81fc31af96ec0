"""Delivery: one evaluation's transaction Bundle to the FHIR server, exactly once, never lost,
never over a newer result.

``deliver`` is the only place that decides what happens to a computed result:
1. Write-ahead: the result goes to the outbox first (``pending``, "not yet sent"), so a process
   killed while sending leaves it there for ``outbox retry``. If the outbox cannot be written
   (full disk), the result is still sent; only if that fails too is it ``unsaved`` and the caller
   must keep it (the CLI prints the Bundle).
2. Under a lock per server and patient (threads of this process, and other processes sharing
   the outbox), so that two deliveries for one patient never interleave — this is what makes
   the ``conditional`` strategy safe against HAPI's conditional-create race, and what makes a
   retry exclusive: ``retry`` skips an item whose patient another process is delivering to.
3. Superseding (``fhir.superseding``): a newer evaluation of the patient on the server or
   waiting in the outbox means this result is ``superseded``: kept for the record, never sent.
4. Reads the patient's earlier DetectedIssues with our identifier and adds a versioned update
   cancelling those this evaluation no longer raises (``write.withdrawals``).
5. Sends one transaction. A version conflict (409, or 412 on an ``If-Match`` update, which is
   what the FHIR specification prescribes) is retried with fresh versions; the client has already
   retried what a retry can fix.
6. Delivered: the outbox item is removed. Failed: it stays, ``pending`` when the server failed
   or the conflict persisted, ``rejected`` with the server's OperationOutcome when it refused.
   The withdrawals are never kept: they are recomputed at every attempt.
"""

from __future__ import annotations

import contextlib
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
from fhir_resist.fhir import superseding
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.outbox import (
    NOT_YET_SENT,
    Outbox,
    OutboxItem,
    Scope,
    State,
    evaluated_at,
    guidance_of,
    patient_lock_name,
)
from fhir_resist.fhir.write import withdrawals

JSON = dict[str, Any]
# delivered; queued (pending in the outbox); rejected (kept with the server's reason); superseded
# (a newer evaluation is on the server or waiting: not sent); busy (retry only: another process is
# delivering to this patient now); unsaved (not delivered and the outbox could not keep it).
Outcome = Literal["delivered", "queued", "rejected", "superseded", "busy", "unsaved"]
CONFLICT_ATTEMPTS = 3  # sends of one delivery when the server reports a version conflict
BUSY = "being sent by another process (another delivery for this patient is under way)"


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
    def hold(self, base: str, patient: str, *, blocking: bool = True) -> Iterator[bool]:
        """Yields True once the lock is held; without ``blocking``, False at once when it is taken."""
        key = (base, patient)
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            entry.users += 1
        try:
            held = entry.lock.acquire(blocking=blocking)
            try:
                yield held
            finally:
                if held:
                    entry.lock.release()
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
    evaluated: str = ""  # the evaluation time of the result

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
            "evaluated": self.evaluated or None,
            "written": [
                {"resourceType": w.resource_type, "status": w.status, "location": w.location}
                for w in self.written
            ],
            "withdrawn": list(self.withdrawn),
            "error": self.error,
            "outbox": str(self.outbox_path) if self.outbox_path else None,
        }


@dataclass(frozen=True, slots=True)
class _Attempt:
    """How sending went: the server's answer, or a newer evaluation, or the last error."""

    response: JSON | None = None
    withdrawals: tuple[JSON, ...] = ()
    newer: superseding.Newer | None = None
    error: ServerError | None = None
    conflict: bool = False


def scope_of(assessment: Assessment) -> Scope:
    return Scope(assessment.patient, assessment.therapies)


def key_of(bundle: JSON) -> str:
    """The evaluation id carried by the bundle's GuidanceResponse (the outbox key)."""
    guidance = guidance_of(bundle)
    if guidance is None:
        raise ValueError("the bundle has no GuidanceResponse with an evaluation identifier")
    return next(
        str(i["value"]) for i in guidance["identifier"] if i.get("system") == terminology.NS_EVALUATION
    )


def deliver(client: FhirClient, bundle: JSON, scope: Scope, outbox: Outbox) -> Delivery:
    """Send one evaluation's result (written ahead to the outbox); see the module's steps."""
    key = key_of(bundle)
    item, saved = _write_ahead(outbox, key, bundle, client.base, scope)
    with _held(client.base, item, outbox, blocking=True):
        attempt = _attempt(client, item, outbox)
        return _settle(outbox, client.base, item, attempt, saved=saved)


def retry(
    client_for: Callable[[str], FhirClient], outbox: Outbox, *, include_rejected: bool = False
) -> list[tuple[OutboxItem, Delivery]]:
    """Send every pending item again (and rejected ones when asked), oldest evaluation first.

    ``client_for(server_url) -> FhirClient`` builds the client for the server an item was meant
    for. Delivered items leave the outbox; superseded ones are marked so and never sent. An item
    whose patient another process is delivering to is skipped (``busy``), never sent twice.
    Crash leftovers (``.tmp-*`` files untouched for minutes) are removed first.
    """
    outbox.remove_leftovers()
    items, _ = outbox.items()
    earliest = datetime.min.replace(tzinfo=UTC)
    items.sort(key=lambda i: (superseding.instant(i.evaluated) or earliest, i.created, i.key))
    results: list[tuple[OutboxItem, Delivery]] = []
    for item in items:
        if _waits(item, include_rejected):
            delivery = _retry_one(client_for, outbox, item, include_rejected)
            if delivery is not None:
                results.append((item, delivery))
    return results


def _waits(item: OutboxItem, include_rejected: bool) -> bool:
    return item.state == "pending" or (item.state == "rejected" and include_rejected)


def _retry_one(
    client_for: Callable[[str], FhirClient], outbox: Outbox, item: OutboxItem, include_rejected: bool
) -> Delivery | None:
    with _held(item.server, item, outbox, blocking=False) as held:
        if not held:
            return Delivery(
                "busy", item.server, item.key, error=BUSY, outbox_path=item.path, evaluated=item.evaluated
            )
        current = outbox.reload(item)
        if current is None or not _waits(current, include_rejected):
            return None  # settled by another process meanwhile
        client = client_for(current.server)
        return _settle(outbox, client.base, current, _attempt(client, current, outbox), saved=True)


@contextmanager
def _held(base: str, item: OutboxItem, outbox: Outbox, *, blocking: bool) -> Iterator[bool]:
    """The patient's lock in this process, then across processes sharing the outbox."""
    with _locks.hold(base, item.scope.patient or item.key, blocking=blocking) as here:
        if not here:
            yield False
            return
        with outbox.lock(patient_lock_name(base, item.scope, item.key), blocking=blocking) as there:
            yield there


def _write_ahead(outbox: Outbox, key: str, bundle: JSON, base: str, scope: Scope) -> tuple[OutboxItem, bool]:
    """The result as an outbox item written before sending; ``(item, False)`` when it could not be."""
    try:
        path = outbox.put(key, bundle, server=base, scope=scope, error=NOT_YET_SENT, attempts=0)
        item = outbox.reload_path(path)
        if item is not None:
            return item, True
    except OSError:
        pass
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    path = outbox.path_for(key, base, scope)
    unsaved = OutboxItem(
        path, key, base, now, now, 0, "pending", NOT_YET_SENT, None, scope, bundle, evaluated_at(bundle)
    )
    return unsaved, False


def _attempt(client: FhirClient, item: OutboxItem, outbox: Outbox) -> _Attempt:
    last = _Attempt()
    for _ in range(CONFLICT_ATTEMPTS):
        entries: list[JSON] = []
        try:
            newer = _newer(client, item, outbox)
            if newer is not None:
                return _Attempt(newer=newer)
            entries = _withdrawals(client, item.bundle, item.scope)
            response = client.transaction({**item.bundle, "entry": [*item.bundle.get("entry", []), *entries]})
        except ServerError as exc:
            last = _Attempt(error=exc, conflict=_is_conflict(exc, entries))
            if last.conflict:
                continue
            return last
        return _Attempt(response=response, withdrawals=tuple(entries))
    return last


def _is_conflict(error: ServerError, sent: list[JSON]) -> bool:
    """A version conflict: re-read and send again. HAPI answers 409 for an ``If-Match`` mismatch,
    the FHIR specification 412; a 412 without a versioned update in the transaction is a refusal
    (e.g. a conditional create matching several resources)."""
    if error.status == 409:
        return True
    return error.status == 412 and any("ifMatch" in (e.get("request") or {}) for e in sent)


def _newer(client: FhirClient, item: OutboxItem, outbox: Outbox) -> superseding.Newer | None:
    patient = item.scope.patient
    if not patient or not item.evaluated:
        return None
    waiting = superseding.in_outbox(outbox, item.server, item.scope, item.key)
    return superseding.newest(waiting, item.key, item.evaluated, item.created) or superseding.newest(
        superseding.on_server(client, patient), item.key, item.evaluated, item.created
    )


def _settle(outbox: Outbox, base: str, item: OutboxItem, attempt: _Attempt, *, saved: bool) -> Delivery:
    """What became of the result: out of the outbox when delivered, kept in its state otherwise."""
    if attempt.response is not None:
        _remove_if_unchanged(outbox, item)
        return Delivery(
            "delivered",
            base,
            item.key,
            written=_written(item.bundle, list(attempt.withdrawals), attempt.response),
            withdrawn=tuple(e["request"]["url"] for e in attempt.withdrawals),
            evaluated=item.evaluated,
        )
    if attempt.newer is not None:
        kept = _keep(outbox, item, "superseded", str(attempt.newer), None, 0)
        return Delivery(
            "superseded", base, item.key, error=str(attempt.newer), outbox_path=kept, evaluated=item.evaluated
        )
    error = attempt.error
    assert error is not None
    state: State = "pending" if error.retryable or attempt.conflict else "rejected"
    kept = _keep(outbox, item, state, str(error), error.outcome, error.attempts)
    if kept is None and saved:
        kept = item.path  # the write-ahead record holds the result (as pending)
    if kept is None:
        where = f"the outbox {outbox.directory} could not be written either"
        return Delivery("unsaved", base, item.key, error=f"{error}; {where}", evaluated=item.evaluated)
    outcome: Outcome = "queued" if state == "pending" else "rejected"
    return Delivery(outcome, base, item.key, error=str(error), outbox_path=kept, evaluated=item.evaluated)


def _keep(
    outbox: Outbox, item: OutboxItem, state: State, error: str, outcome: JSON | None, attempts: int
) -> Path | None:
    try:
        return outbox.mark(item, state, error, outcome=outcome, attempts=attempts)
    except OSError:
        return None


def _remove_if_unchanged(outbox: Outbox, item: OutboxItem) -> None:
    """Remove the delivered item, unless another delivery of the same result rewrote it meanwhile."""
    current = outbox.reload(item)
    if current is not None and current.updated == item.updated:
        with contextlib.suppress(OSError):  # left behind, it is sent again: idempotent, harmless
            outbox.remove(current)


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
