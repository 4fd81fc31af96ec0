"""The outbox: every result on its way to the FHIR server, kept on disk until the server has it.

Write-ahead: delivery writes the result here *before* it sends it (state ``pending``, error
``not yet sent``) and removes it once the server has confirmed the transaction, so a process
killed mid-send leaves the result here for ``fhir-resist outbox retry``. Re-sending is safe: the
transaction is idempotent (deterministic identifiers).

One JSON file per server, patient and evaluation: ``<hash of server and patient>-<evaluation
id>.json``, so the same result queued twice is one item and a patient's items are found without
reading the others, and no file name discloses a patient id. Files are ``0600`` in a ``0700``
directory, written atomically (``state_files.atomic_write``); a crash leaves the old item or the
new one, and its temporary ``.tmp-*`` file, which is never read as an item and is removed later.

Every item records the evaluation time (the GuidanceResponse's ``occurrenceDateTime``): an item
older than what the server already holds for the patient, or than another item of the patient
waiting here, is never delivered (``fhir.superseding``).

States:
- ``pending``: not yet sent (delivery in progress, or interrupted), or the server could not be
  reached or failed (network, timeout, 429, 5xx after retries, a version conflict that persisted);
  ``fhir-resist outbox retry`` sends it.
- ``rejected``: the server refused it (4xx) and said why (``outcome``). Sending the same bundle
  again would be refused again, so ``retry`` leaves it unless asked (``--include-rejected``)
  after the cause was fixed (e.g. the Patient now exists on the server).
- ``superseded``: a newer evaluation of the patient reached the server (or waits here) first;
  this one is kept for the record and never sent. ``error`` says which evaluation replaced it.
``outbox list`` shows a pending item as ``sending`` while another process holds its patient's lock.

Items of the first format (``fhir-resist-outbox/1``, named ``<evaluation id>.json``) are still
read; their evaluation time comes from their bundle.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fhir_resist import terminology
from fhir_resist.domain import Message, Severity
from fhir_resist.errors import InputError
from fhir_resist.fhir.state_files import (
    TEMPORARY_PREFIX,
    atomic_write,
    file_lock,
    name_hash,
    private_directory,
    remove_leftovers,
)

JSON = dict[str, Any]
State = Literal["pending", "rejected", "superseded"]
STATES: tuple[State, ...] = ("pending", "rejected", "superseded")
FORMAT = "fhir-resist-outbox/2"
FORMATS = ("fhir-resist-outbox/1", FORMAT)
NOT_YET_SENT = "not yet sent"
LOCKS = ".locks"


@dataclass(frozen=True, slots=True)
class Scope:
    """What an evaluation covered: whose record, and which therapies it assessed.

    Delivery withdraws (status ``cancelled``) an earlier DetectedIssue of this patient only
    when it implicates one of these therapies and the new evaluation no longer raises it.
    """

    patient: str | None
    therapies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    path: Path
    key: str
    server: str
    created: str
    updated: str
    attempts: int
    state: State
    error: str
    outcome: JSON | None
    scope: Scope
    bundle: JSON
    evaluated: str  # the evaluation time (GuidanceResponse.occurrenceDateTime); "" when unknown

    @property
    def lock_name(self) -> str:
        return patient_lock_name(self.server, self.scope, self.key)


def patient_lock_name(server: str, scope: Scope, key: str) -> str:
    """What deliveries to one server for one patient share (the evaluation itself without a patient)."""
    return f"{server}|{scope.patient or key}"


def guidance_of(bundle: JSON) -> JSON | None:
    """The bundle's GuidanceResponse carrying an evaluation identifier, if it has one."""
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "GuidanceResponse":
            for ident in resource.get("identifier") or []:
                if (
                    isinstance(ident, dict)
                    and ident.get("system") == terminology.NS_EVALUATION
                    and isinstance(ident.get("value"), str)
                ):
                    return resource
    return None


def evaluated_at(bundle: JSON) -> str:
    """The evaluation time the bundle carries (its GuidanceResponse's occurrenceDateTime), or ""."""
    guidance = guidance_of(bundle) or {}
    value = guidance.get("occurrenceDateTime")
    return value if isinstance(value, str) else ""


def default_directory() -> Path:
    """``$FHIR_RESIST_OUTBOX``, else ``$XDG_STATE_HOME/fhir-resist/outbox`` (``~/.local/state``)."""
    configured = os.environ.get("FHIR_RESIST_OUTBOX")
    if configured:
        return Path(configured)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "fhir-resist" / "outbox"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Outbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def ensure_writable(self) -> None:
        """Refuse up front (``InputError`` naming the directory) an outbox results could not be kept in."""
        try:
            private_directory(self.directory)
            handle, probe = tempfile.mkstemp(dir=self.directory, prefix=TEMPORARY_PREFIX)
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            raise InputError(
                f"the outbox directory {self.directory} is not writable ({exc.strerror or exc}); "
                "results could not be kept if the server failed. Choose another with --outbox DIR "
                "or FHIR_RESIST_OUTBOX",
                where="outbox",
            ) from None

    def path_for(self, key: str, server: str, scope: Scope) -> Path:
        prefix = name_hash(patient_lock_name(server, scope, key), 16)
        return self.directory / f"{prefix}-{_safe(key)}.json"

    def put(
        self,
        key: str,
        bundle: JSON,
        *,
        server: str,
        scope: Scope,
        error: str,
        state: State = "pending",
        outcome: JSON | None = None,
        attempts: int = 1,
    ) -> Path:
        """Keep ``bundle`` (replacing an earlier item with the same key); returns its file.

        Raises ``OSError`` when the item cannot be written (full disk, no permission)."""
        private_directory(self.directory)
        path = self.path_for(key, server, scope)
        legacy = self.directory / f"{_safe(key)}.json"
        previous = self._previous(path) or (self._previous(legacy) if legacy != path else None)
        now = _now()
        record = {
            "format": FORMAT,
            "key": key,
            "server": server,
            "created": previous.created if previous else now,
            "updated": now,
            "attempts": (previous.attempts if previous else 0) + attempts,
            "state": state,
            "error": error,
            "outcome": outcome,
            "scope": {"patient": scope.patient, "therapies": list(scope.therapies)},
            "evaluated": evaluated_at(bundle),
            "bundle": bundle,
        }
        atomic_write(path, json.dumps(record, indent=1).encode())
        if previous is not None and legacy != path and previous.path == legacy:
            self.remove(previous)
        return path

    def mark(
        self, item: OutboxItem, state: State, error: str, *, outcome: JSON | None = None, attempts: int = 0
    ) -> Path:
        """Record a new state for ``item``, with the server's OperationOutcome and the attempts made
        since it was last recorded."""
        return self.put(
            item.key,
            item.bundle,
            server=item.server,
            scope=item.scope,
            error=error,
            state=state,
            outcome=outcome,
            attempts=attempts,
        )

    def items(self) -> tuple[list[OutboxItem], list[Message]]:
        """Every item, oldest first, and a message for each file that is not one."""
        return self._read(self._files("*.json"))

    def of_patient(self, server: str, scope: Scope, key: str) -> list[OutboxItem]:
        """The items for the patient of ``scope`` on ``server`` (written in this format), oldest first."""
        prefix = name_hash(patient_lock_name(server, scope, key), 16)
        return self._read(self._files(f"{prefix}-*.json"))[0]

    def reload(self, item: OutboxItem) -> OutboxItem | None:
        """``item`` as it is on disk now; ``None`` when it has left the outbox (or cannot be read)."""
        return self._previous(item.path)

    def reload_path(self, path: Path) -> OutboxItem | None:
        """The item in ``path``; ``None`` when there is none (or it cannot be read)."""
        return self._previous(path)

    def remove(self, item: OutboxItem) -> None:
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()

    def remove_leftovers(self) -> int:
        """Remove temporary files a crash left behind (untouched for minutes); returns how many."""
        return remove_leftovers(self.directory) + remove_leftovers(self.directory / LOCKS)

    @contextlib.contextmanager
    def lock(self, name: str, *, blocking: bool = True) -> Iterator[bool]:
        """The lock ``name`` shared by every process using this outbox (``state_files.file_lock``)."""
        with file_lock(self.directory / LOCKS, name, blocking=blocking) as held:
            yield held

    def _files(self, pattern: str) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.glob(pattern) if not p.name.startswith("."))

    def _read(self, paths: list[Path]) -> tuple[list[OutboxItem], list[Message]]:
        found: list[OutboxItem] = []
        problems: list[Message] = []
        for path in paths:
            try:
                found.append(self._load(path))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                problems.append(Message(Severity.WARNING, str(path), f"not an outbox item ({exc})"))
        found.sort(key=lambda item: (item.created, item.key))
        return found, problems

    def _previous(self, path: Path) -> OutboxItem | None:
        try:
            return self._load(path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def _load(path: Path) -> OutboxItem:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") not in FORMATS:
            raise ValueError(f"format is not {FORMAT}")
        scope = data["scope"]
        state = data["state"]
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        bundle = data["bundle"]
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise ValueError("no Bundle in it")
        evaluated = data.get("evaluated")
        return OutboxItem(
            path=path,
            key=str(data["key"]),
            server=str(data["server"]),
            created=str(data["created"]),
            updated=str(data["updated"]),
            attempts=int(data["attempts"]),
            state=state,
            error=str(data["error"]),
            outcome=data.get("outcome"),
            scope=Scope(scope.get("patient"), tuple(scope.get("therapies") or ())),
            bundle=bundle,
            evaluated=evaluated if isinstance(evaluated, str) else evaluated_at(bundle),
        )


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:120] or "item"
