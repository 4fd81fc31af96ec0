"""The outbox: transaction Bundles that could not be delivered, kept on disk until they are.

One JSON file per evaluation, named by its evaluation id, so the same result queued twice is
one item. Files are written atomically (temporary file in the same directory, fsync, rename):
a crash leaves either the old item or the new one, never half of one.

States:
- ``pending``: the server could not be reached or failed (network, timeout, 429, 5xx after
  retries); ``fhir-resist outbox retry`` sends it again.
- ``rejected``: the server refused it (4xx) and said why (``outcome``). Sending the same bundle
  again would be refused again, so ``retry`` leaves it unless asked (``--include-rejected``)
  after the cause was fixed (e.g. the Patient now exists on the server).
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

from fhir_resist.domain import Message, Severity

JSON = dict[str, Any]
State = Literal["pending", "rejected"]
FORMAT = "fhir-resist-outbox/1"


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


def default_directory() -> Path:
    """``$FHIR_RESIST_OUTBOX``, else ``$XDG_STATE_HOME/fhir-resist/outbox`` (``~/.local/state``)."""
    configured = os.environ.get("FHIR_RESIST_OUTBOX")
    if configured:
        return Path(configured)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "fhir-resist" / "outbox"


class Outbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

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
        """Keep ``bundle`` (replacing an earlier item with the same key); returns its file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{_safe(key)}.json"
        previous = self._load(path) if path.exists() else None
        now = datetime.now(UTC).isoformat(timespec="seconds")
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
            "bundle": bundle,
        }
        _atomic_write(path, json.dumps(record, indent=1).encode())
        return path

    def items(self) -> tuple[list[OutboxItem], list[Message]]:
        """Every item, oldest first, and a message for each file that is not one."""
        found: list[OutboxItem] = []
        problems: list[Message] = []
        if not self.directory.is_dir():
            return found, problems
        for path in sorted(self.directory.glob("*.json")):
            try:
                found.append(self._load(path))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                problems.append(Message(Severity.WARNING, str(path), f"not an outbox item ({exc})"))
        found.sort(key=lambda item: (item.created, item.key))
        return found, problems

    def remove(self, item: OutboxItem) -> None:
        with contextlib.suppress(FileNotFoundError):
            item.path.unlink()

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock shared by every process using this outbox (POSIX ``flock``)."""
        import fcntl

        locks = self.directory / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{_safe(name)}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _load(path: Path) -> OutboxItem:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")
        scope = data["scope"]
        state = data["state"]
        if state not in ("pending", "rejected"):
            raise ValueError(f"unknown state {state!r}")
        bundle = data["bundle"]
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise ValueError("no Bundle in it")
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
        )


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:120] or "item"


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
