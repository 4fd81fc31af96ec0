"""A stateful HAPI FHIR (R4 JPA, 8.x) stand-in for ``responses``, faithful to what clients see.

Behaviour follows the HAPI digest (and the recorded replies in tests/data/hapi/), checked against a
real HAPI FHIR 8.8.0 JPA server by ``tests/fhir/test_real_hapi_mock.py``:
- server ids sequential and numeric across all types; ``meta.versionId``/``lastUpdated``/``source``;
- ``Content-Location`` absolute and versioned on every write, read and vread, ``Location`` as well
  only on a POST (and on the 410 of a deleted resource); ``ETag: W/"n"``, ``Last-Modified`` (on
  searches too), ``X-Request-ID`` (echoed), ``X-Powered-By``,
  ``Content-Type: application/fhir+json;charset=UTF-8``;
- ``Prefer: return=minimal | representation | OperationOutcome``;
- create 201; ``If-None-Exist``: 0 matches → 201, 1 → 200 with the existing resource, ≥2 → 412
  HAPI-0958; PUT: existing → 200 (no new version when unchanged), new alphanumeric id → 201,
  new all-digit id → 400 HAPI-0960, ``If-Match`` mismatch → 409 ``HAPI-0550: HAPI-0989``;
- with a validating interceptor (``validating``): a resource claiming a profile the server does
  not know → 422 with the validator's OperationOutcome (``location`` with line and column);
- read: unknown 404 HAPI-2001, deleted 410, unknown type 404 HAPI-0302; references to missing
  resources on write → 400 HAPI-1094;
- search: searchset with ``total``, URL-encoded ``self``, ``_getpages`` paging links,
  ``search.mode`` match/include, ``_include`` (and ``:iterate`` for has-member), expired
  page 410 HAPI-0417, unknown parameter 400 HAPI-0524, ``_summary=count``;
- transaction: all or nothing; ``urn:uuid`` references rewritten; entries answered in request
  order with ``201 Created``/``200 OK``, relative versioned ``location``, bare ``etag``,
  ``lastModified`` and a storage-response ``outcome``; a failing entry → that status and a lone
  OperationOutcome, nothing kept. Batch: per-entry outcomes.
- the conditional-create race of HAPI issues #3141/#4597 can be switched on (``race_gap``):
  the match is decided, the lock released, and the create done later, as on a busy server.

Faults in front of the server (gateway, rate limiter, network) are queued with ``fail``.
"""

from __future__ import annotations

import copy
import json
import random
import re
import secrets
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import pytest
import requests
import responses

JSON = dict[str, Any]
BASE = "http://hapi.test/fhir"
POWERED_BY = "HAPI FHIR 8.10.0 REST Server (FHIR Server; FHIR 4.0.1/R4)"
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "Resource encoded in summary mode",
}
STORAGE_CS = "https://hapifhir.io/fhir/CodeSystem/hapi-fhir-storage-response-code"
TYPES = frozenset(
    [
        "Patient",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Medication",
        "Observation",
        "DiagnosticReport",
        "Specimen",
        "DetectedIssue",
        "GuidanceResponse",
        "RequestGroup",
        "Provenance",
        "Device",
        "Practitioner",
        "Organization",
        "Encounter",
        "Parameters",
        "Subscription",
        "StructureDefinition",
        "CodeSystem",
        "ValueSet",
        "PlanDefinition",
    ]
)
_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
INCLUDES = {
    "DiagnosticReport:result": "result",
    "DiagnosticReport:specimen": "specimen",
    "Observation:has-member": "hasMember",
    "Observation:specimen": "specimen",
    "MedicationRequest:medication": "medicationReference",
    "MedicationStatement:medication": "medicationReference",
    "MedicationAdministration:medication": "medicationReference",
}
SEARCH_PARAMS = frozenset(
    [
        "_id",
        "patient",
        "subject",
        "identifier",
        "code",
        "_tag",
        "status",
        "category",
        "_count",
        "_include",
        "_include:iterate",
        "_summary",
        "_total",
        "_pretty",
    ]
)


class HapiError(Exception):
    def __init__(self, status: int, diagnostics: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.diagnostics = diagnostics
        self.headers = headers or {}
        super().__init__(diagnostics)

    def outcome(self) -> JSON:
        return operation_outcome(self.diagnostics)


class HapiValidationError(HapiError):
    """422 from HAPI's RequestValidatingInterceptor: the validator's own OperationOutcome."""

    def __init__(self, outcome: JSON) -> None:
        self._outcome = outcome
        super().__init__(422, outcome["issue"][0]["diagnostics"])

    def outcome(self) -> JSON:
        return self._outcome


@dataclass
class Fault:
    """What a gateway, rate limiter or network does to one request instead of HAPI."""

    status: int = 503
    body: str = "<html><body><h1>503 Service Unavailable</h1></body></html>"
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    exception: Exception | None = None
    method: str | None = None  # only requests with this method


@dataclass
class Stored:
    versions: list[JSON]
    deleted: str | None = None  # instant of deletion


# What sits in front of a busy HAPI sends now and then (chaos mode).
CHAOS: tuple[Fault, ...] = (
    Fault(status=503, headers={"Retry-After": "0"}),
    Fault(status=502, body="<html><body>Bad Gateway</body></html>"),
    Fault(status=504, body="upstream timed out", content_type="text/plain"),
    Fault(status=429, body="rate limited", content_type="text/plain", headers={"Retry-After": "0"}),
    Fault(exception=requests.ReadTimeout("read timed out")),
    Fault(exception=requests.ConnectionError("Connection reset by peer")),
)


def operation_outcome(diagnostics: str, severity: str = "error", code: str = "processing") -> JSON:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def _storage_outcome(code: str, display: str, diagnostics: str) -> JSON:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "informational",
                "details": {"coding": [{"system": STORAGE_CS, "code": code, "display": display}]},
                "diagnostics": diagnostics,
            }
        ],
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _request_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


def _references(node: Any, path: str) -> Iterator[tuple[JSON, str]]:
    """Every Reference-shaped dict with its FHIRPath-ish path."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node, path
        for key, value in node.items():
            if key not in ("contained", "reference"):
                yield from _references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for item in node:
            yield from _references(item, path)


def _content(resource: JSON) -> JSON:
    return {k: v for k, v in resource.items() if k not in ("meta", "id")} | {
        "meta": {
            k: v
            for k, v in (resource.get("meta") or {}).items()
            if k not in ("versionId", "lastUpdated", "source")
        }
    }


class HapiMock:
    """Register with ``HapiMock(rsps)``; ``calls`` lists what the client sent."""

    def __init__(
        self,
        rsps: responses.RequestsMock,
        base: str = BASE,
        *,
        page_size: int = 20,
        race_gap: float = 0.0,
        chaos: float = 0.0,
        validating: frozenset[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.base = base.rstrip("/")
        self.page_size = page_size
        self.race_gap = race_gap
        # With a RequestValidatingInterceptor: the profiles the server knows; a resource claiming
        # another one is refused with 422 and the validator's OperationOutcome.
        self.validating = validating
        self.chaos = chaos  # the share of requests a failing gateway answers instead of HAPI
        self.chaos_count = 0
        self._rng = random.Random(seed)
        self.store: dict[tuple[str, str], Stored] = {}
        self.order: list[tuple[str, str]] = []
        self.searches: dict[str, list[JSON]] = {}
        self.faults: deque[Fault] = deque()
        self.calls: list[tuple[str, str, JSON | None]] = []
        self._next_id = 1
        self.rsps = rsps
        self._lock = threading.RLock()
        pattern = re.compile(re.escape(self.base) + r"(/.*)?(\?.*)?$")
        for method in ("GET", "POST", "PUT", "DELETE"):
            rsps.add_callback(method, pattern, callback=self._callback)

    # ---- test helpers -----------------------------------------------------------------------

    def fail(self, times: int = 1, **kwargs: Any) -> None:
        for _ in range(times):
            self.faults.append(Fault(**kwargs))

    def seed(self, *resources: JSON) -> None:
        """Put resources on the server as they are (ids kept), as if loaded earlier."""
        for resource in resources:
            if resource.get("resourceType") == "Bundle":
                self.seed(*(e["resource"] for e in resource.get("entry", []) if "resource" in e))
                continue
            self._put(copy.deepcopy(resource), resource["id"], "#seed")

    def all(self, rtype: str) -> list[JSON]:
        with self._lock:
            return [
                copy.deepcopy(s.versions[-1])
                for key in self.order
                if key[0] == rtype and (s := self.store[key]).deleted is None
            ]

    def history(self, rtype: str, rid: str) -> list[JSON]:
        return copy.deepcopy(self.store[(rtype, rid)].versions)

    def count(self) -> int:
        return sum(1 for s in self.store.values() if s.deleted is None)

    # ---- dispatch ----------------------------------------------------------------------------

    def _callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = request.body
        if isinstance(body, bytes):
            body = body.decode()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.calls.append((request.method, request.url, parsed))
        fault = None
        with self._lock:
            if self.faults and self.faults[0].method in (None, request.method):
                fault = self.faults.popleft()
            elif self.chaos and self._rng.random() < self.chaos:
                fault = self._rng.choice(CHAOS)
                self.chaos_count += 1
        if fault is not None:
            if fault.exception is not None:
                raise fault.exception
            return fault.status, {"Content-Type": fault.content_type, **fault.headers}, fault.body
        rid = request.headers.get("X-Request-ID") or _request_id()
        headers = {
            "Content-Type": "application/fhir+json;charset=UTF-8",
            "X-Powered-By": POWERED_BY,
            "X-Request-ID": rid,
        }
        try:
            status, extra, payload = self._route(request, body, rid)
        except HapiError as exc:
            return exc.status, headers | exc.headers, json.dumps(exc.outcome(), indent=2)
        headers.update(extra)
        return status, headers, json.dumps(payload, indent=2) if payload is not None else ""

    def _route(self, request: Any, body: str | None, rid: str) -> tuple[int, dict[str, str], JSON | None]:
        split = urlsplit(request.url)
        path = split.path[len(urlsplit(self.base).path) :].strip("/")
        params = parse_qsl(split.query, keep_blank_values=True)
        parts = [p for p in path.split("/") if p]
        method = request.method
        prefer = (request.headers.get("Prefer") or "").replace(" ", "")
        if parts and parts[0] != "metadata" and parts[0] not in TYPES:
            raise HapiError(
                404,
                f"HAPI-0302: Unknown resource type '{parts[0]}' - "
                f"Server knows how to handle: {sorted(TYPES)}",
            )
        if method == "GET":
            if parts == ["metadata"]:
                return 200, {}, self._capability()
            if not parts and any(k == "_getpages" for k, _ in params):
                page = self._page(dict(params))
                # HAPI names the stored search as a Bundle in Content-Location on later pages.
                where = f"{self.base}/Bundle/{dict(params)['_getpages']}"
                return 200, {"Content-Location": where, "Last-Modified": _http_date(_now())}, page
            if len(parts) == 1:
                return 200, {"Last-Modified": _http_date(_now())}, self._search(parts[0], params)
            if len(parts) == 2:
                return self._read(parts[0], parts[1], None)
            if len(parts) == 4 and parts[2] == "_history":
                return self._read(parts[0], parts[1], parts[3])
        resource = self._body(body) if method in ("POST", "PUT") else None
        if method == "POST" and not parts:
            with self._lock:
                answer = self._bundle(resource or {}, rid)
            where = f"{self.base}/Bundle/{answer['id']}"
            return 200, {"Content-Location": where, "Location": where}, answer
        if method == "POST" and len(parts) == 1:
            assert resource is not None
            with self._lock:
                status, stored, code = self._create(
                    parts[0], resource, request.headers.get("If-None-Exist"), rid
                )
            return self._written(status, stored, code, prefer, posted=True)
        if method == "PUT" and len(parts) == 2:
            assert resource is not None
            with self._lock:
                status, stored, code = self._update(
                    parts[0], parts[1], resource, request.headers.get("If-Match"), rid
                )
            return self._written(status, stored, code, prefer)
        if method == "DELETE" and len(parts) == 2:
            with self._lock:
                key = (parts[0], parts[1])
                where = f"{self.base}/{parts[0]}/{parts[1]}"
                if key in self.store:
                    # HAPI's deletion is a new version; Content-Location names it.
                    where += f"/_history/{len(self.store[key].versions) + 1}"
                    if self.store[key].deleted is None:
                        self.store[key].deleted = _now()
            return (
                200,
                {"Content-Location": where},
                _storage_outcome(
                    "SUCCESSFUL_DELETE", "Delete succeeded.", "Successfully deleted 1 resource(s). Took 6ms."
                ),
            )
        raise HapiError(400, f"HAPI-0447: Invalid request: {method} {path}")

    @staticmethod
    def _body(body: str | None) -> JSON:
        try:
            data = json.loads(body or "")
        except ValueError as exc:
            raise HapiError(
                400,
                "HAPI-0450: Failed to parse request body as JSON resource. Error was: HAPI-1861: "
                "Failed to parse JSON encoded FHIR content: HAPI-1859: "
                f"Content does not appear to be FHIR JSON, {exc}",
            ) from exc
        if not isinstance(data, dict) or "resourceType" not in data:
            raise HapiError(
                400, "HAPI-0450: Failed to parse request body as JSON resource. Error was: no resourceType"
            )
        return data

    # ---- storage ----------------------------------------------------------------------------

    def _current(self, rtype: str, rid: str) -> JSON | None:
        stored = self.store.get((rtype, rid))
        if stored is None or stored.deleted is not None:
            return None
        return stored.versions[-1]

    def _put(self, resource: JSON, rid: str, source: str) -> tuple[JSON, bool, bool]:
        """Store a version; returns (stored, created, changed)."""
        rtype = resource["resourceType"]
        key = (rtype, rid)
        stored = self.store.get(key)
        previous = stored.versions[-1] if stored and stored.deleted is None else None
        if previous is not None and _content(previous) == _content(resource | {"id": rid}):
            return previous, False, False
        version = len(stored.versions) + 1 if stored else 1
        meta = dict(resource.get("meta") or {})
        meta.update(versionId=str(version), lastUpdated=_now(), source=source)
        kept = {"resourceType": rtype, "id": rid, "meta": meta} | {
            k: v for k, v in resource.items() if k not in ("resourceType", "id", "meta")
        }
        if stored is None:
            self.store[key] = Stored([kept])
            self.order.append(key)
        else:
            stored.versions.append(kept)
            stored.deleted = None
        return kept, previous is None, True

    def _new_id(self) -> str:
        rid = str(self._next_id)
        self._next_id += 1
        return rid

    def _validate(self, resource: JSON) -> None:
        if self.validating is None:
            return
        rtype = resource.get("resourceType")
        issues = [
            {
                "severity": "error",
                "code": "processing",
                "diagnostics": f"Profile reference '{url}' has not been checked because it is unknown",
                "location": [f"{rtype}.meta.profile[{n}]", "Line 1, Col 2"],
            }
            for n, url in enumerate((resource.get("meta") or {}).get("profile") or [])
            if url not in self.validating
        ]
        if issues:
            raise HapiValidationError({"resourceType": "OperationOutcome", "issue": issues})

    def _check_references(self, resource: JSON, pending: frozenset[tuple[str, str]] = frozenset()) -> None:
        self._validate(resource)
        rtype = resource["resourceType"]
        for ref, path in _references(resource, rtype):
            match = _REFERENCE.match(ref["reference"])
            if match and (match[1], match[2]) not in pending and self._current(match[1], match[2]) is None:
                raise HapiError(
                    400, f"HAPI-1094: Resource {match[1]}/{match[2]} not found, specified in path: {path}"
                )

    def _matches(self, rtype: str, criteria: str) -> list[JSON]:
        query = criteria.split("?", 1)[1] if "?" in criteria else criteria
        return self._find(rtype, parse_qsl(query, keep_blank_values=True))

    def _create(
        self, rtype: str, resource: JSON, if_none_exist: str | None, rid: str
    ) -> tuple[int, JSON, str]:
        if resource.get("resourceType") != rtype:
            raise HapiError(400, f'HAPI-0450: Incorrect resource type found, expected "{rtype}"')
        if if_none_exist:
            found = self._matches(rtype, if_none_exist)
            if len(found) == 1:
                return 200, found[0], "SUCCESSFUL_CREATE_WITH_CONDITIONAL_MATCH"
            if len(found) > 1:
                raise HapiError(
                    412,
                    f'HAPI-0958: Failed to CREATE resource with match URL "{if_none_exist}" because this '
                    f"search matched {len(found)} resources",
                )
        self._check_references(resource)
        stored, _, _ = self._put(resource, self._new_id(), f"#{rid}")
        code = "SUCCESSFUL_CREATE_NO_CONDITIONAL_MATCH" if if_none_exist else "SUCCESSFUL_CREATE"
        return 201, stored, code

    def _update(
        self,
        rtype: str,
        rid: str,
        resource: JSON,
        if_match: str | None,
        request_id: str,
        pending: frozenset[tuple[str, str]] = frozenset(),
    ) -> tuple[int, JSON, str]:
        if resource.get("id") != rid:
            raise HapiError(
                400,
                "HAPI-0420: Can not update resource, resource body must contain an ID element which matches "
                f'the request URL for update (PUT) operation - Resource body ID of "{resource.get("id")}" '
                f'does not match URL ID of "{rid}"',
            )
        current = self._current(rtype, rid)
        if current is None and rid.isdigit():
            raise HapiError(
                400,
                f"HAPI-0960: Can not create resource with ID[{rid}], "
                "no resource with this ID exists and clients "
                "may only assign IDs which contain at least one non-numeric character",
            )
        if if_match:
            wanted = if_match.strip().removeprefix("W/").strip('"')
            have = current["meta"]["versionId"] if current else None
            if wanted != have:
                raise HapiError(
                    409,
                    f"HAPI-0550: HAPI-0989: Trying to update {rtype}/{rid}/_history/{wanted} "
                    "but this is not the current version",
                )
        self._check_references(resource, pending)
        stored, created, changed = self._put(resource, rid, f"#{request_id}")
        if created:
            return 201, stored, "SUCCESSFUL_UPDATE_AS_CREATE"
        return 200, stored, "SUCCESSFUL_UPDATE" if changed else "SUCCESSFUL_UPDATE_NO_CHANGE"

    def _written(
        self, status: int, stored: JSON, code: str, prefer: str, *, posted: bool = False
    ) -> tuple[int, dict[str, str], JSON | None]:
        """Headers as HAPI 8 sends them: ``Content-Location`` on every write, ``Location`` too on a
        POST (create, matched conditional create), never on a PUT."""
        rtype, rid, version = stored["resourceType"], stored["id"], stored["meta"]["versionId"]
        where = f"{self.base}/{rtype}/{rid}/_history/{version}"
        headers = {
            "Content-Location": where,
            "ETag": f'W/"{version}"',
            "Last-Modified": _http_date(stored["meta"]["lastUpdated"]),
        }
        if posted:
            headers["Location"] = where
        if "return=minimal" in prefer:
            return status, headers, None
        if "return=OperationOutcome" in prefer:
            verb = "created" if status == 201 else "updated"
            return (
                status,
                headers,
                _storage_outcome(
                    code,
                    "Create succeeded.",
                    f'Successfully {verb} resource "{rtype}/{rid}/_history/{version}". Took 5ms.',
                ),
            )
        return status, headers, copy.deepcopy(stored)

    def _read(self, rtype: str, rid: str, version: str | None) -> tuple[int, dict[str, str], JSON]:
        stored = self.store.get((rtype, rid))
        if stored is None:
            raise HapiError(404, f"HAPI-2001: Resource {rtype}/{rid} is not known")
        if version is not None:
            if not version.isdigit() or not 1 <= int(version) <= len(stored.versions):
                raise HapiError(
                    404, f'HAPI-0979: Version "{version}" is not valid for resource {rtype}/{rid}'
                )
            resource = stored.versions[int(version) - 1]
        else:
            if stored.deleted is not None:
                gone = f"{self.base}/{rtype}/{rid}/_history/{len(stored.versions) + 1}"
                raise HapiError(410, f"Resource was deleted at {stored.deleted}", {"Location": gone})
            resource = stored.versions[-1]
        v = resource["meta"]["versionId"]
        headers = {
            "ETag": f'W/"{v}"',
            "Last-Modified": _http_date(resource["meta"]["lastUpdated"]),
            "Content-Location": f"{self.base}/{rtype}/{rid}/_history/{v}",
        }
        return 200, headers, copy.deepcopy(resource)

    # ---- search -----------------------------------------------------------------------------

    def _find(self, rtype: str, params: list[tuple[str, str]]) -> list[JSON]:
        for name, _ in params:
            if name not in SEARCH_PARAMS:
                raise HapiError(
                    400,
                    f'HAPI-0524: Unknown search parameter "{name}" for resource type "{rtype}". Valid search '
                    f"parameters for this search are: {sorted(SEARCH_PARAMS)}",
                )
        found = []
        for key in self.order:
            stored = self.store[key]
            if key[0] != rtype or stored.deleted is not None:
                continue
            resource = stored.versions[-1]
            if all(_matches(resource, name, value) for name, value in params):
                found.append(resource)
        return found

    def _search(self, rtype: str, params: list[tuple[str, str]]) -> JSON:
        with self._lock:
            matches = [copy.deepcopy(r) for r in self._find(rtype, params)]
        self_url = f"{self.base}/{rtype}" + (
            f"?{urlencode(params, quote_via=quote, safe='')}" if params else ""
        )
        if ("_summary", "count") in params:
            # A count alone: no links, and the SUBSETTED tag of a summary.
            counted = self._searchset(self_url, [], len(matches), [])
            del counted["link"]
            counted["meta"]["tag"] = [SUBSETTED]
            return counted
        count = next((int(v) for k, v in params if k == "_count" and v.isdigit()), self.page_size)
        includes = [v for k, v in params if k == "_include"]
        iterate = [v for k, v in params if k == "_include:iterate"]
        search_id = str(uuid.uuid4())
        self.searches[search_id] = [*matches, {"_include": includes, "_iterate": iterate}]
        return self._page_of(search_id, 0, count, self_url)

    def _page(self, params: dict[str, str]) -> JSON:
        search_id = params["_getpages"]
        if search_id not in self.searches:
            raise HapiError(410, f'HAPI-0417: Search ID "{search_id}" does not exist and may have expired')
        offset = int(params.get("_getpagesoffset", "0"))
        count = int(params.get("_count", str(self.page_size)))
        return self._page_of(search_id, offset, count, self._page_url(search_id, offset, count))

    def _page_url(self, search_id: str, offset: int, count: int) -> str:
        return (
            f"{self.base}?_getpages={search_id}&_getpagesoffset={offset}&_count={count}"
            "&_pretty=true&_bundletype=searchset"
        )

    def _page_of(self, search_id: str, offset: int, count: int, self_url: str) -> JSON:
        *matches, spec = self.searches[search_id]
        page = matches[offset : offset + count]
        links = [{"relation": "self", "url": self_url}]
        if offset + count < len(matches):
            links.append({"relation": "next", "url": self._page_url(search_id, offset + count, count)})
        if offset > 0:
            links.append(
                {"relation": "previous", "url": self._page_url(search_id, max(0, offset - count), count)}
            )
        with self._lock:
            included = self._included(page, spec["_include"], spec["_iterate"])
        return self._searchset(self_url, page, len(matches), included, links)

    def _included(self, page: list[JSON], includes: list[str], iterate: list[str]) -> list[JSON]:
        seen = {(r["resourceType"], r["id"]) for r in page}
        out: list[JSON] = []
        frontier = page
        rounds = 0
        while frontier and rounds < 10:
            specs = includes if rounds == 0 else iterate
            if rounds == 0:
                specs = [*includes, *iterate]
            found = []
            for resource in frontier:
                for spec in specs:
                    source, _, _ = spec.partition(":")
                    element = INCLUDES.get(spec)
                    if resource["resourceType"] != source or element is None:
                        continue
                    value = resource.get(element)
                    for ref in value if isinstance(value, list) else [value]:
                        match = (
                            _REFERENCE.match((ref or {}).get("reference", ""))
                            if isinstance(ref, dict)
                            else None
                        )
                        if (
                            match
                            and (match[1], match[2]) not in seen
                            and (hit := self._current(match[1], match[2]))
                        ):
                            seen.add((match[1], match[2]))
                            found.append(copy.deepcopy(hit))
            out.extend(found)
            frontier = found if iterate else []
            rounds += 1
        return out

    def _searchset(
        self,
        self_url: str,
        page: list[JSON],
        total: int,
        included: list[JSON],
        links: list[JSON] | None = None,
    ) -> JSON:
        bundle: JSON = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": _now()},
            "type": "searchset",
            "total": total,
            "link": links or [{"relation": "self", "url": self_url}],
        }
        entries = [
            {"fullUrl": f"{self.base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
            for mode, rs in (("match", page), ("include", included))
            for r in rs
        ]
        if entries:
            bundle["entry"] = entries
        return bundle

    # ---- transaction / batch -------------------------------------------------------------------

    def _bundle(self, bundle: JSON, rid: str) -> JSON:
        kind = bundle.get("type", "transaction")
        if bundle.get("resourceType") != "Bundle" or kind not in ("transaction", "batch"):
            raise HapiError(
                400, f"HAPI-0527: Unable to process transaction where incoming Bundle.type = {kind}"
            )
        entries = bundle.get("entry") or []
        if kind == "batch":
            return self._batch(entries, rid)
        snapshot = copy.deepcopy((self.store, self.order, self._next_id))
        try:
            return self._transaction(entries, rid)
        except HapiError:
            self.store, self.order, self._next_id = snapshot
            raise

    def _transaction(self, entries: list[JSON], rid: str) -> JSON:
        # Plan: decide every entry's id (conditional matches against the current state).
        plan: list[tuple[str, str, str, JSON | None, str | None]] = []  # verb, type, id, resource, status
        substitutions: dict[str, str] = {}
        for index, entry in enumerate(entries):
            request = entry.get("request") or {}
            verb, url = request.get("method"), request.get("url", "")
            resource = copy.deepcopy(entry.get("resource"))
            if verb not in ("POST", "PUT", "GET", "DELETE"):
                raise HapiError(
                    400,
                    "HAPI-0529: Transaction bundle entry has missing or invalid HTTP Verb specified in "
                    f'Bundle.entry({index}).request.method. Found value: "{verb}"',
                )
            if verb == "POST":
                rtype = url.split("?")[0]
                existing = self._matches(rtype, request["ifNoneExist"]) if request.get("ifNoneExist") else []
                if len(existing) > 1:
                    raise HapiError(
                        412,
                        "HAPI-0958: Failed to CREATE resource with match URL "
                        f'"{request["ifNoneExist"]}" because '
                        f"this search matched {len(existing)} resources",
                    )
                target = existing[0]["id"] if existing else None
                plan.append(("POST", rtype, target or "", resource, "match" if target else None))
            elif verb == "PUT":
                rtype, _, rid_ = url.partition("/")
                plan.append(("PUT", rtype, rid_, resource, request.get("ifMatch")))
            else:
                plan.append((verb, url, "", None, None))
        if self.race_gap:
            self._lock.release()
            try:
                time.sleep(self.race_gap)
            finally:
                self._lock.acquire()
        # Assign ids and rewrite placeholders.
        assigned: list[tuple[str, str, JSON | None, str | None]] = []
        for entry, (verb, rtype, target, resource, extra) in zip(entries, plan, strict=True):
            if verb == "POST" and not target:
                target = self._new_id()
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and full_url.startswith("urn:") and target:
                substitutions[full_url] = f"{rtype}/{target}"
            assigned.append((verb, target, resource, extra))
        pending = frozenset(
            (p[1], a[1]) for p, a in zip(plan, assigned, strict=True) if p[0] in ("POST", "PUT")
        )
        out = []
        for (verb, rtype, _, _, _), (_, target, resource, extra) in zip(plan, assigned, strict=True):
            if resource is not None:
                for ref, _path in _references(resource, rtype):
                    if ref["reference"] in substitutions:
                        ref["reference"] = substitutions[ref["reference"]]
            if verb == "POST" and extra == "match":
                current = self._current(rtype, target)
                assert current is not None
                out.append(self._entry_response(200, current, "SUCCESSFUL_CREATE_WITH_CONDITIONAL_MATCH"))
            elif verb == "POST":
                assert resource is not None
                self._check_references(resource, pending)
                stored, _, _ = self._put(resource, target, f"#{rid}")
                out.append(self._entry_response(201, stored, "SUCCESSFUL_CREATE"))
            elif verb == "PUT":
                assert resource is not None
                resource["id"] = target
                status, stored, code = self._update(rtype, target, resource, extra, rid, pending)
                out.append(self._entry_response(status, stored, code))
            elif verb == "GET":
                out.append({"resource": self._search(rtype, []), "response": {"status": "200 OK"}})
            else:
                out.append({"response": {"status": "204 No Content"}})
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "type": "transaction-response",
            "link": [{"relation": "self", "url": self.base}],
            "entry": out,
        }

    def _batch(self, entries: list[JSON], rid: str) -> JSON:
        out = []
        for entry in entries:
            try:
                response = self._transaction([entry], rid)["entry"][0]
            except HapiError as exc:
                outcome = operation_outcome(exc.diagnostics, code="exception")
                response = {"response": {"status": f"{exc.status} {_reason(exc.status)}", "outcome": outcome}}
            out.append(response)
        return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "batch-response", "entry": out}

    def _entry_response(self, status: int, stored: JSON, code: str) -> JSON:
        rtype, rid, version = stored["resourceType"], stored["id"], stored["meta"]["versionId"]
        verb = {"SUCCESSFUL_CREATE": "created"}.get(code, "updated")
        return {
            "response": {
                "status": f"{status} {_STATUS_TEXT[status]}",
                "location": f"{rtype}/{rid}/_history/{version}",
                "etag": version,
                "lastModified": stored["meta"]["lastUpdated"],
                "outcome": _storage_outcome(
                    code,
                    code.replace("_", " ").capitalize(),
                    f'Successfully {verb} resource "{rtype}/{rid}/_history/{version}".',
                ),
            }
        }

    def _capability(self) -> JSON:
        return {
            "resourceType": "CapabilityStatement",
            "id": str(uuid.uuid4()),
            "name": "RestServer",
            "status": "active",
            "date": _now(),
            "publisher": "Not provided",
            "kind": "instance",
            "software": {"name": "HAPI FHIR Server", "version": "8.10.0"},
            "implementation": {"description": "HAPI FHIR R4 Server", "url": self.base},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+xml", "xml", "application/fhir+json", "json"],
            "rest": [
                {
                    "mode": "server",
                    "resource": [{"type": t} for t in sorted(TYPES)],
                    "interaction": [{"code": "transaction"}, {"code": "batch"}],
                }
            ],
        }


def _reason(status: int) -> str:
    return {
        400: "Bad Request",
        404: "Not Found",
        409: "Conflict",
        422: "Unprocessable Entity",
        410: "Gone",
        412: "Precondition Failed",
    }.get(status, "Error")


def _http_date(instant: str) -> str:
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(instant).astimezone(UTC), usegmt=True)


def _codings(value: Any) -> Iterator[JSON]:
    if isinstance(value, list):
        for item in value:
            yield from _codings(item)
    elif isinstance(value, dict):
        yield from (c for c in value.get("coding") or [] if isinstance(c, dict))


def _token(coding: JSON, wanted: str, code_key: str = "code") -> bool:
    if "|" in wanted:
        system, _, code = wanted.partition("|")
        return (not system or coding.get("system") == system) and (not code or coding.get(code_key) == code)
    return coding.get(code_key) == wanted


def _matches(resource: JSON, name: str, value: str) -> bool:
    if name.startswith("_") and name not in ("_id", "_tag"):
        return True
    alternatives = value.split(",")
    if name == "_id":
        return resource.get("id") in alternatives
    if name in ("patient", "subject"):
        wanted = {v if "/" in v else f"Patient/{v}" for v in alternatives}
        refs = [resource.get("subject"), resource.get("patient")]
        return any(isinstance(r, dict) and r.get("reference") in wanted for r in refs)
    if name == "identifier":
        return any(
            _token(i, v, "value")
            for i in resource.get("identifier") or []
            if isinstance(i, dict)
            for v in alternatives
        )
    if name == "_tag":
        return any(_token(t, v) for t in (resource.get("meta") or {}).get("tag") or [] for v in alternatives)
    if name == "code":
        return any(_token(c, v) for c in _codings(resource.get("code")) for v in alternatives)
    if name == "category":
        return any(_token(c, v) for c in _codings(resource.get("category")) for v in alternatives)
    if name == "status":
        return resource.get("status") in alternatives
    return True


@contextmanager
def hapi_for_the_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed: JSON) -> Iterator[HapiMock]:
    """The HAPI mock holding ``seed`` (a Bundle), as the command line meets it: its outbox in
    ``tmp_path``, two tries a request without back-off, and no server from the environment."""
    monkeypatch.setenv("FHIR_RESIST_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("FHIR_RESIST_RETRIES", "2")
    monkeypatch.delenv("FHIR_RESIST_FHIR_BASE", raising=False)
    monkeypatch.setattr("fhir_resist.fhir.client.FhirClient._backoff", lambda self, attempt: 0.0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock = HapiMock(rsps)
        mock.seed(seed)
        yield mock
