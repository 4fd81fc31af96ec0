"""HAPI FHIR 8.8's Bulk Data ``$export`` on top of the HAPI mock (``tests/hapi.py``), for ``responses``.

Sources: the source of HAPI FHIR (github.com/hapifhir/hapi-fhir): ``BulkDataExportProvider``,
``BulkExportJobServiceUtil``, ``BulkDataExportSupport`` and ``BulkDataExportUtil``
(``hapi-fhir-storage-batch2-jobs``), ``BulkExportResponseJson`` (``hapi-fhir-jpaserver-base``);
the FHIR Bulk Data Access IG (v2) for what a server may do beyond HAPI; and the answers of a real
HAPI FHIR 8.8.0 JPA server (``integration/hapi``), whose statuses, headers, bodies and HAPI-NNNN
messages are those below:
- kick-off (system ``$export``, ``Patient/$export``, ``Group/ID/$export``) without
  ``Prefer: respond-async``: 400 ``HAPI-0513: Must request async processing for $export``; an
  unknown Group: 404 ``HAPI-2001``; a type outside the patient compartment at patient or group
  level: 400 ``HAPI-0512: Resource types [...] are invalid for this type of export, ...``;
  otherwise ``202 Accepted`` with no body and ``Content-Location:
  [base]/$export-poll-status?_jobId=<uuid>``;
- status while the job runs: ``202`` with no body, ``X-Progress: Build in progress - Status set
  to QUEUED at <instant>`` (then ``IN_PROGRESS``) and ``Retry-After: 120``; complete: ``200``,
  ``Content-Type: application/json``, ``{"transactionTime", "request", "requiresAccessToken":
  true, "output": [{"type", "url": "[base]/Binary/<id>"}], "error": []}`` (no ``count``); a
  failed job: ``500`` with an OperationOutcome carrying the job's error message; an unknown job
  id: 404;
- ``DELETE`` of the status URL: ``202`` with an informational OperationOutcome while the job
  runs; ``404`` "... was already cancelled or has completed.  Nothing to do." once complete
  (both without a ``Content-Type``);
- ``GET [base]/Binary/<id>`` with a non-FHIR ``Accept``: the content itself as
  ``application/fhir+ndjson``, whole (HAPI ignores ``Range``: ``200``); with a FHIR ``Accept``
  the Binary resource (base64). Binary ids are 32 letters and digits.

``honours_range`` makes the file server answer ``206`` as a static file server or object store
does (the IG lets files live anywhere); ``files_at`` serves the files from another origin.
"""

from __future__ import annotations

import base64
import json
import re
import string
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BufferedReader, BytesIO
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import responses

from tests.hapi import BASE, HapiError, HapiMock, operation_outcome

JSON = dict[str, Any]
PATIENT_COMPARTMENT_TYPES = frozenset(
    {
        "Patient",
        "Observation",
        "DiagnosticReport",
        "Specimen",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
    }
)


@dataclass
class Job:
    id: str
    request: str
    types: list[str]
    resources: dict[str, list[JSON]]
    started: str
    polls_left: int
    state: str = "IN_PROGRESS"  # COMPLETED, FAILED, CANCELLED
    error: str = ""
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (type, binary id)


class BrokenBody(BufferedReader):
    """A body whose connection breaks after ``limit`` bytes, as a dropped TCP connection does
    (``responses`` streams a ``BufferedReader`` as it is)."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(BytesIO(data))
        self.limit = limit
        self.sent = 0

    def read(self, size: int | None = -1) -> bytes:
        left = self.limit - self.sent
        if left <= 0:
            raise ConnectionResetError("Connection reset by peer")
        chunk = super().read(left if size is None or size < 0 else min(size, left))
        self.sent += len(chunk)
        return chunk


class HapiBulk(HapiMock):
    """The HAPI mock with ``$export``: ``polls`` in-progress answers before a job completes."""

    def __init__(
        self,
        rsps: responses.RequestsMock,
        base: str = BASE,
        *,
        polls: int = 1,
        retry_after: str | None = "120",
        per_file: int = 1000,
        honours_range: bool = False,
        files_at: str | None = None,
        requires_token: bool = True,
        fail_job: str | None = None,
        errors: list[JSON] | None = None,
    ) -> None:
        super().__init__(rsps, base)
        self.polls = polls
        self.retry_after = retry_after
        self.per_file = per_file
        self.honours_range = honours_range
        self.files_at = files_at.rstrip("/") if files_at else None
        self.requires_token = requires_token
        self.fail_job = fail_job
        self.errors = errors or []
        self.jobs: dict[str, Job] = {}
        self.binaries: dict[str, bytes] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # method, URL, headers of bulk requests
        self.cuts: list[int] = []  # the next file downloads break after these many bytes
        if self.files_at:
            pattern = re.compile(re.escape(self.files_at) + r"/.*$")
            rsps.add_callback("GET", pattern, callback=self._file_callback)

    # ---- dispatch ----------------------------------------------------------------------------

    def _callback(self, request: Any) -> tuple[int, dict[str, str], Any]:
        path = urlsplit(request.url).path[len(urlsplit(self.base).path) :].strip("/")
        bulk = path.endswith("$export") or path == "$export-poll-status" or path.startswith("Binary/")
        if not bulk or (self.faults and self.faults[0].method in (None, request.method)):
            return super()._callback(request)  # HAPI's own routes, or a fault in front of the server
        self.calls.append((request.method, request.url, None))
        self.seen.append((request.method, request.url, dict(request.headers)))
        headers = {"X-Powered-By": "HAPI FHIR 8.8.0 REST Server (FHIR Server; FHIR 4.0.1/R4)"}
        try:
            status, extra, body = self._bulk(request, path)
        except HapiError as exc:
            headers["Content-Type"] = "application/fhir+json;charset=UTF-8"
            return exc.status, headers, json.dumps(exc.outcome(), indent=2)
        return status, headers | extra, body

    def _file_callback(self, request: Any) -> tuple[int, dict[str, str], Any]:
        self.seen.append((request.method, request.url, dict(request.headers)))
        return self._binary(request, urlsplit(request.url).path.rsplit("/", 1)[1])

    def _bulk(self, request: Any, path: str) -> tuple[int, dict[str, str], Any]:
        params = parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
        if path.endswith("$export") and request.method == "GET":
            return self._kick_off(request, path, dict(params))
        if path == "$export-poll-status":
            job = self.jobs.get(dict(params).get("_jobId", ""))
            if job is None:
                raise HapiError(
                    404,
                    f"HAPI-2040: Unknown instance ID: {dict(params).get('_jobId')}. "
                    "Please check if the input job ID is valid.",
                )
            return self._delete(job) if request.method == "DELETE" else self._status(job)
        if path.startswith("Binary/") and request.method == "GET":
            return self._binary(request, path.split("/", 1)[1])
        raise HapiError(400, f"HAPI-0447: Invalid request: {request.method} {path}")

    # ---- kick-off and status -----------------------------------------------------------------

    def _kick_off(self, request: Any, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if "respond-async" not in (request.headers.get("Prefer") or ""):
            raise HapiError(400, "HAPI-0513: Must request async processing for $export")
        types = [t for t in (params.get("_type") or "").split(",") if t]
        parts = path.split("/")
        patients: set[str] | None = None
        if parts[0] == "Group":
            group = self._current("Group", parts[1])
            if group is None:
                raise HapiError(404, f"HAPI-2001: Resource Group/{parts[1]} is not known")
            patients = {m["entity"]["reference"] for m in group.get("member") or []}
        if parts[0] in ("Group", "Patient"):
            bad = [t for t in types if t not in PATIENT_COMPARTMENT_TYPES]
            if bad:
                raise HapiError(
                    400,
                    f"HAPI-0512: Resource types [{','.join(bad)}] are invalid for this type of export, as "
                    "they do not contain search parameters that refer to patients.",
                )
        filters = [v for k, v in parse_qsl(urlsplit(request.url).query) if k == "_typeFilter"]
        job = Job(
            id=str(uuid.uuid4()),
            request=request.url,
            types=types,
            resources={t: self._selected(t, patients, filters, params.get("_since")) for t in types},
            started=_now(),
            polls_left=self.polls,
        )
        self.jobs[job.id] = job
        where = f"{self.base}/$export-poll-status?_jobId={job.id}"
        return 202, {"Content-Location": where}, ""

    def _selected(
        self, rtype: str, patients: set[str] | None, filters: list[str], since: str | None
    ) -> list[JSON]:
        found = self.all(rtype)
        if patients is not None:
            found = [r for r in found if _patient_of(r) in patients]
        mine = [f.split("?", 1)[1] for f in filters if f.startswith(f"{rtype}?")]
        if mine:
            found = [r for r in found if any(r in self._find(rtype, parse_qsl(q)) for q in mine)]
        if since:
            found = [r for r in found if r["meta"]["lastUpdated"] >= since]
        return found

    def _status(self, job: Job) -> tuple[int, dict[str, str], Any]:
        if job.state == "IN_PROGRESS" and job.polls_left > 0:
            state = "QUEUED" if job.polls_left == self.polls else "IN_PROGRESS"
            job.polls_left -= 1
            headers = {"X-Progress": f"Build in progress - Status set to {state} at {job.started}"}
            if self.retry_after is not None:
                headers["Retry-After"] = self.retry_after
            return 202, headers, ""
        if job.state == "IN_PROGRESS":
            self._finish(job)
        if job.state == "FAILED":
            raise HapiError(500, job.error)
        manifest: JSON = {
            "transactionTime": job.started,
            "request": job.request,
            "requiresAccessToken": self.requires_token,
            "output": [{"type": t, "url": self._file_url(b)} for t, b in job.outputs],
        }
        if self.errors:
            manifest["error"] = [
                {"type": "OperationOutcome", "url": self._file_url(self._store_file(self.errors))}
            ]
        return 200, {"Content-Type": "application/json;charset=utf-8"}, json.dumps(manifest, indent=2)

    def _finish(self, job: Job) -> None:
        if self.fail_job is not None:
            job.state, job.error = "FAILED", self.fail_job
            return
        job.state = "COMPLETED"
        for rtype in job.types:
            found = job.resources[rtype]
            for start in range(0, len(found), self.per_file):
                job.outputs.append((rtype, self._store_file(found[start : start + self.per_file])))

    def _store_file(self, resources: list[JSON]) -> str:
        # HAPI names a bulk export's Binary with 32 random letters and digits
        binary = "".join(self._rng.choice(string.ascii_letters + string.digits) for _ in range(32))
        self.binaries[binary] = "".join(
            json.dumps(r, separators=(",", ":")) + "\n" for r in resources
        ).encode()
        return binary

    def _file_url(self, binary: str) -> str:
        return f"{self.files_at or self.base}/Binary/{binary}"

    def _delete(self, job: Job) -> tuple[int, dict[str, str], Any]:
        if job.state == "COMPLETED":
            raise HapiError(
                404, f"Job instance <{job.id}> was already cancelled or has completed.  Nothing to do."
            )
        job.state = "CANCELLED"
        outcome = operation_outcome(
            f"Job instance <{job.id}> successfully cancelled.", "information", "informational"
        )
        return 202, {}, json.dumps(outcome, indent=2)  # HAPI names no Content-Type here

    # ---- files -------------------------------------------------------------------------------

    def _binary(self, request: Any, binary: str) -> tuple[int, dict[str, str], Any]:
        data = self.binaries.get(binary)
        if data is None:
            raise HapiError(404, f"HAPI-2001: Resource Binary/{binary} is not known")
        accept = request.headers.get("Accept") or ""
        if "application/fhir+json" in accept:
            resource = {
                "resourceType": "Binary",
                "id": binary,
                "contentType": "application/fhir+ndjson",
                "data": base64.b64encode(data).decode(),
            }
            return 200, {"Content-Type": "application/fhir+json;charset=UTF-8"}, json.dumps(resource)
        headers = {
            "Content-Type": "application/fhir+ndjson",
            "Content-Disposition": "Attachment;",
            "ETag": 'W/"1"',
            "Content-Location": f"{self.base}/Binary/{binary}/_history/1",
        }
        status, start = 200, 0
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range") or "")
        if match and self.honours_range:
            start = int(match[1])
            if start >= len(data):
                return 416, {"Content-Range": f"bytes */{len(data)}"}, ""
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        body = data[start:]
        if self.cuts:
            return status, headers, BrokenBody(body, self.cuts.pop(0))
        return status, headers, body


def _patient_of(resource: JSON) -> str | None:
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource['id']}"
    for key in ("subject", "patient"):
        ref = resource.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            return str(ref["reference"])
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def lines(data: bytes) -> Iterator[JSON]:
    for line in data.splitlines():
        if line.strip():
            yield json.loads(line)
