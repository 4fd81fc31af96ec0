"""An export from start to finish: kick-off, polling, the downloads, the error files, the job deleted.

Each step is written to the record (``record.py``) before the next begins. A run that finds a
record for the same server and request continues it: a complete one is not downloaded again; one
with a manifest downloads the files not yet complete; one with a status URL polls that job. A
record of another request is refused (one directory, one export).

The job is deleted on the server (``DELETE`` on the status URL) once the files are on disk, and
when polling fails or is cancelled; it is kept when a download fails, so that a re-run can
continue the files the server still holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from fhir_resist.bulk.download import download
from fhir_resist.bulk.kickoff import ExportRequest, kick_off
from fhir_resist.bulk.outcomes import ErrorSummary, summarise
from fhir_resist.bulk.polling import PollPolicy, Progress, poll, relative
from fhir_resist.bulk.record import RECORD, FileRecord, Record, load, now, save
from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.addresses import origin
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.state_files import private_directory

log = logging.getLogger("fhir_resist.bulk")


@dataclass(frozen=True, slots=True)
class Exported:
    """The finished export: its record, what the error files say, and whether it was done before."""

    directory: Path
    record: Record
    errors: ErrorSummary
    already_complete: bool = False


@dataclass(frozen=True, slots=True)
class Pacing:
    """How the export waits: the polling bounds, the sleep and the clock (both replaceable in tests)."""

    policy: PollPolicy = field(default_factory=PollPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def run_export(
    client: FhirClient,
    request: ExportRequest,
    directory: Path,
    *,
    pacing: Pacing | None = None,
    progress: Progress = lambda _: None,
) -> Exported:
    pacing = pacing or Pacing()
    private_directory(directory)
    record = _existing(client, request, directory)
    if record is not None and record.complete:
        progress(f"the export in {directory} is complete already; nothing downloaded")
        return Exported(directory, record, ErrorSummary.from_json(record.errors), already_complete=True)
    if record is None:
        record = Record(server=client.base, request=request.as_json(), started=now())
        save(directory, record)
    if record.manifest is None:
        record = _await_manifest(client, request, directory, record, pacing, progress)
    record = _download_all(client, directory, record, pacing, progress)
    errors = summarise(directory / f.path for f in record.files if f.kind == "error")
    job = delete_job(client, record.status_url) if record.status_url else "none"
    record = record.finish(errors, job)
    save(directory, record)
    return Exported(directory, record, errors)


def _existing(client: FhirClient, request: ExportRequest, directory: Path) -> Record | None:
    record = load(directory)
    if record is not None and (record.server != client.base or record.request != request.as_json()):
        raise InputError(
            f"holds an export of another request ({record.request} from {record.server}); "
            "give another --out, or remove the directory to export again",
            where=str(directory / RECORD),
        )
    return record


def _await_manifest(
    client: FhirClient,
    request: ExportRequest,
    directory: Path,
    record: Record,
    pacing: Pacing,
    progress: Progress,
) -> Record:
    """Kick off (unless a job is under way already) and poll until the manifest is in the record."""
    if record.status_url is None:
        record = replace(record, status_url=kick_off(client, request), job=None)
        save(directory, record)
        progress(f"export started at {request.path}")
    status_url = record.status_url
    assert status_url is not None
    try:
        manifest, text = poll(
            client,
            status_url,
            policy=pacing.policy,
            sleep=pacing.sleep,
            clock=pacing.clock,
            progress=progress,
        )
    except (ServerError, KeyboardInterrupt):
        job = delete_job(client, status_url)
        save(directory, replace(record, status_url=None, job=f"abandoned while polling; {job}"))
        raise
    record = record.with_manifest(manifest, text)
    save(directory, record)
    return record


def _download_all(
    client: FhirClient, directory: Path, record: Record, pacing: Pacing, progress: Progress
) -> Record:
    """Every file not yet complete, in manifest order; the record saved after each."""
    needs_token = bool((record.manifest or {}).get("requiresAccessToken"))
    files = list(record.files)
    for index, entry in enumerate(files):
        if entry.done:
            continue
        target = directory / entry.path
        private_directory(target.parent)
        progress(f"downloading {entry.path} ({index + 1}/{len(files)})")
        got = download(
            client,
            entry.url,
            target,
            with_token=_token_for(client, entry, needs_token),
            sleep=pacing.sleep,
            name=entry.path,
        )
        files[index] = replace(entry, resources=got.resources, size=got.size)
        record = replace(record, files=tuple(files))
        save(directory, record)
    return record


def _token_for(client: FhirClient, entry: FileRecord, needs_token: bool) -> bool:
    """Whether the file's request carries the access token: only when the manifest requires it,
    and only to the FHIR server's own origin; a file elsewhere that requires it is refused."""
    if not needs_token:
        return False
    if origin(entry.url) == origin(client.base):
        return True
    raise ServerError(
        f"download of {entry.path}: the manifest requires the access token, but the file is on "
        f"{origin(entry.url)}, not on the FHIR server {origin(client.base)}; the token is sent "
        "only to that server",
        retryable=False,
    )


def delete_job(client: FhirClient, status_url: str) -> str:
    """``DELETE`` the job; what became of it, in words (never raises: the files are what matter)."""
    try:
        client.request("DELETE", relative(client, status_url))
    except ServerError as exc:
        if exc.status in (404, 410):
            # HAPI answers 404 for a job that completed: it has nothing left to cancel
            return f"job already finished on the server (DELETE answered {exc.status})"
        log.warning("bulk export job not deleted (status %s)", exc.status)
        return f"job not deleted: {exc}"
    return "job deleted"
