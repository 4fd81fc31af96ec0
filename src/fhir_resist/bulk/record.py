"""The export's record beside its files (``export.json``): what was asked of which server, the job's
status URL while it runs, the server's manifest once complete, and each file's state.

It is rewritten atomically after every step, so an interrupted run leaves a record that the next
run continues from: polling the same job, or downloading the files not yet complete. A complete
record makes a re-run a no-op. The re-evaluation reads it to learn what the directory holds:
the files by resource type with their resource counts, and the ``transactionTime`` that is the
``_since`` of the next export.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fhir_resist.bulk.manifest import FileEntry, Manifest
from fhir_resist.bulk.outcomes import ErrorSummary
from fhir_resist.errors import InputError
from fhir_resist.fhir.state_files import atomic_write

RECORD = "export.json"
FORMAT = "fhir-resist bulk export 1"
ERRORS = "errors"  # the error files' subdirectory: no OperationOutcome among the resources
Kind = Literal["output", "error"]
_PATH = re.compile(rf"({ERRORS}/)?[A-Z][A-Za-z]{{1,63}}-\d{{1,6}}\.ndjson")


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One file of the manifest; ``resources`` and ``size`` once it is complete on disk."""

    kind: Kind
    type: str
    url: str
    path: str  # relative to the export's directory
    server_count: int | None = None
    resources: int | None = None
    size: int | None = None

    @property
    def done(self) -> bool:
        return self.resources is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "type": self.type,
            "url": self.url,
            "path": self.path,
            "serverCount": self.server_count,
            "resources": self.resources,
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class Record:
    server: str
    request: dict[str, Any]
    started: str
    status_url: str | None = None
    manifest: dict[str, Any] | None = None
    transaction_time: str | None = None
    files: tuple[FileRecord, ...] = ()
    errors: dict[str, Any] | None = None
    finished: str | None = None
    job: str | None = None  # what became of the job on the server: deleted, gone, kept (why)

    @property
    def complete(self) -> bool:
        return self.finished is not None

    def resources_by_type(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for entry in self.files:
            if entry.kind == "output":
                counts[entry.type] += entry.resources or 0
        return dict(counts)

    def with_manifest(self, manifest: Manifest, text: str) -> Record:
        return replace(
            self,
            manifest=json.loads(text),
            transaction_time=manifest.transaction_time,
            files=planned_files(manifest),
        )

    def finish(self, errors: ErrorSummary, job: str) -> Record:
        return replace(self, errors=errors.as_json(), job=job, finished=now())

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "server": self.server,
            "request": self.request,
            "started": self.started,
            "statusUrl": self.status_url,
            "transactionTime": self.transaction_time,
            "finished": self.finished,
            "job": self.job,
            "resources": self.resources_by_type(),
            "files": [f.as_json() for f in self.files],
            "errors": self.errors,
            "manifest": self.manifest,
        }


def planned_files(manifest: Manifest) -> tuple[FileRecord, ...]:
    """Where each file of the manifest goes: ``<Type>-<n>.ndjson``, error files in ``errors/``."""
    seen: Counter[str] = Counter()
    planned: list[FileRecord] = []
    kinds: tuple[tuple[Kind, tuple[FileEntry, ...]], ...] = (
        ("output", manifest.output),
        ("error", manifest.error),
    )
    for kind, entries in kinds:
        for entry in entries:
            key = f"{kind}/{entry.type}"
            seen[key] += 1
            folder = f"{ERRORS}/" if kind == "error" else ""
            path = f"{folder}{entry.type}-{seen[key]}.ndjson"
            planned.append(FileRecord(kind, entry.type, entry.url, path, entry.count))
    return tuple(planned)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save(directory: Path, record: Record) -> None:
    atomic_write(directory / RECORD, (json.dumps(record.as_json(), indent=2) + "\n").encode())


def load(directory: Path) -> Record | None:
    """The record in ``directory``, or None when there is none; a damaged one is an ``InputError``."""
    path = directory / RECORD
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot be read ({exc}); remove it to start a new export", where=str(path)) from exc
    try:
        return _record(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"is not a fhir-resist export record ({exc}); remove it to start a new export", where=str(path)
        ) from exc


def _record(data: dict[str, Any]) -> Record:
    if data.get("format") != FORMAT:
        raise ValueError(f"format is {data.get('format')!r}")
    files = tuple(_file(f) for f in data["files"])
    return Record(
        server=str(data["server"]),
        request=dict(data["request"]),
        started=str(data["started"]),
        status_url=data.get("statusUrl"),
        manifest=data.get("manifest"),
        transaction_time=data.get("transactionTime"),
        files=files,
        errors=data.get("errors"),
        finished=data.get("finished"),
        job=data.get("job"),
    )


def _file(item: dict[str, Any]) -> FileRecord:
    path = str(item["path"])
    if not _PATH.fullmatch(path) or item["kind"] not in ("output", "error"):
        raise ValueError(f"file {path!r}")
    return FileRecord(
        kind=item["kind"],
        type=str(item["type"]),
        url=str(item["url"]),
        path=path,
        server_count=item.get("serverCount"),
        resources=item.get("resources"),
        size=item.get("size"),
    )
