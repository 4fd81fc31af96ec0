"""The three hook services: discovery, request checking, prefetch-or-fetch, evaluation, cards.

The FastAPI app (``app.py``) is a thin layer over ``HookService.call``; everything here can be
tested without HTTP. Errors are ``HttpError`` with the HTTP status the app should answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fhir_resist.catalogue import Catalogue
from fhir_resist.cdshooks.cards import cards_for
from fhir_resist.engine.assess import assess
from fhir_resist.engine.model import Assessment
from fhir_resist.errors import HttpError, ServerError
from fhir_resist.fhir.client import PATIENT_QUERIES, FhirClient, Retry, next_link, unique
from fhir_resist.fhir.read import iter_resources, read_context
from fhir_resist.files import JsonProblem, parse_json

JSON = dict[str, Any]
HookName = Literal["patient-view", "order-select", "order-sign"]

# Prefetch templates: the same queries the FHIR client runs when a key is missing.
_KEYS = {
    "Condition": "conditions",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "MedicationAdministration": "medicationAdministrations",
    "DiagnosticReport": "reports",
    "Observation": "genomicObservations",
}
PREFETCH: dict[str, str] = {"patient": "Patient/{{context.patientId}}"} | {
    _KEYS[rtype]: f"{rtype}?" + "&".join(f"{k}={v.format(pid='{{context.patientId}}')}" for k, v in params)
    for rtype, params in PATIENT_QUERIES
}

USAGE = (
    "Needs the patient's genomic results (Genomics Reporting Observations or DiagnosticReports), "
    "cancer Conditions and medications, by prefetch or readable at fhirServer. Cards speak only "
    "for what the fhir_resist resistance catalogue supports."
)


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    hook: HookName
    title: str
    description: str

    def discovery(self) -> JSON:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(PREFETCH),
            "usageRequirements": USAGE,
        }


SERVICES: tuple[Service, ...] = (
    Service(
        "fhir-resist-patient-view",
        "patient-view",
        "Targeted-therapy resistance",
        "When the chart opens: resistance findings against the patient's targeted therapies, what the "
        "genomic results imply for drugs not yet given, and the tests that would change the answer.",
    ),
    Service(
        "fhir-resist-order-select",
        "order-select",
        "Targeted-therapy resistance for the selected order",
        "When a targeted drug is selected: whether the patient's tumour genomics predict it will fail, "
        "with the evidence and alternatives to order instead.",
    ),
    Service(
        "fhir-resist-order-sign",
        "order-sign",
        "Targeted-therapy resistance before signing",
        "Before draft orders are signed: resistance findings against any targeted drug among them, "
        "with alternatives.",
    ),
)
BY_ID = {s.id: s for s in SERVICES}


def not_json(problem: JsonProblem) -> HttpError:
    """The 400 for a request body that is not JSON, naming where it fails."""
    return HttpError(400, f"the body is not JSON ({problem}{problem.where})")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class FhirAuthorization(_Model):
    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer", "bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(_Model):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


def parse_request(body: Any, service: Service) -> HookRequest:
    """A checked hook request, or a 400 naming the element."""
    if not isinstance(body, dict):
        raise HttpError(400, "the request body is not a JSON object")
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise HttpError(400, f"{where}: {first['msg']}", expression=where) from None
    if request.hook != service.hook:
        raise HttpError(
            400, f"hook: service {service.id} answers {service.hook}, not {request.hook}", expression="hook"
        )
    if request.fhirAuthorization is not None and not request.fhirServer:
        raise HttpError(400, "fhirServer: required when fhirAuthorization is sent", expression="fhirServer")
    if request.fhirServer and not request.fhirServer.startswith(("http://", "https://")):
        raise HttpError(400, "fhirServer: not an http(s) URL", expression="fhirServer")
    context = request.context
    patient = context.get("patientId")
    if not isinstance(patient, str) or not patient or "/" in patient:
        raise HttpError(
            400, "context.patientId: a bare patient id is required", expression="context.patientId"
        )
    if service.hook != "patient-view":
        drafts = context.get("draftOrders")
        if not isinstance(drafts, dict) or drafts.get("resourceType") != "Bundle":
            raise HttpError(
                400, "context.draftOrders: a Bundle is required", expression="context.draftOrders"
            )
        if service.hook == "order-select":
            selections = context.get("selections")
            if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
                raise HttpError(
                    400,
                    "context.selections: a list of references is required",
                    expression="context.selections",
                )
    return request


ClientFactory = Callable[[str, str | None], FhirClient]


def default_client(base: str, token: str | None) -> FhirClient:
    """The client for fetching what prefetch did not bring. A clinician is waiting: two attempts,
    short timeouts and waits, then 412 (the EHR shows no card rather than a late one)."""
    return FhirClient(
        base, token=token, timeout=(2.0, 4.0), retry=Retry(attempts=2, max_backoff=0.5, max_wait=1.0)
    )


def gather(request: HookRequest, client_factory: ClientFactory = default_client) -> list[JSON]:
    return gather_with_source(request, client_factory)[0]


def gather_with_source(
    request: HookRequest, client_factory: ClientFactory = default_client
) -> tuple[list[JSON], bool]:
    """The patient's resources (prefetch where given, fetched through fhirServer where not), and
    whether anything was fetched.

    A key sent with ``null`` means "no data"; a missing key (or an OperationOutcome in its place)
    means "not tried", and is fetched. When that is impossible: 412 (CDS Hooks 2.0).
    """
    patient = str(request.context["patientId"])
    prefetch = request.prefetch or {}
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    client: FhirClient | None = None
    resources: list[JSON] = []
    for key, template in PREFETCH.items():
        value = prefetch.get(key, _MISSING)
        state = _prefetched(value)
        if state == "null":
            continue
        if state in ("sent", "sent, more pages"):
            resources.extend(_unpack(value))
            if state == "sent, more pages":
                client = client or _client(request, client_factory, token, key)
                resources.extend(_follow(client, next_link(value) or "", key))
            continue
        if state == "invalid":
            raise HttpError(400, f"prefetch.{key}: not a FHIR resource or null", expression=f"prefetch.{key}")
        client = client or _client(request, client_factory, token, key)
        query = template.replace("{{context.patientId}}", patient)
        try:
            resources.extend(_run(client, query))
        except ServerError as exc:
            raise HttpError(412, f"prefetch.{key} was not sent and fhirServer failed: {exc}") from exc
    return unique(resources), client is not None


_MISSING: Any = object()


def _prefetched(value: Any) -> str:
    """What the EHR sent for one prefetch key: "null" (no data), "sent", "sent, more pages" (a
    Bundle with a next link), "missing" (absent or an OperationOutcome: to be fetched) or
    "invalid"."""
    if value is None:
        return "null"
    if isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome"):
        more = value.get("resourceType") == "Bundle" and next_link(value)
        return "sent, more pages" if more else "sent"
    if value is not _MISSING and not isinstance(value, dict):
        return "invalid"
    return "missing"


def needs_server(request: HookRequest) -> bool:
    """Whether answering the call needs the FHIR server (a key not prefetched, or more pages)."""
    prefetch = request.prefetch or {}
    return any(
        _prefetched(prefetch.get(key, _MISSING)) in ("missing", "sent, more pages") for key in PREFETCH
    )


def _client(request: HookRequest, factory: ClientFactory, token: str | None, key: str) -> FhirClient:
    if not request.fhirServer:
        raise HttpError(
            412,
            f"prefetch.{key} was not sent and no fhirServer was given to fetch it from",
            expression=f"prefetch.{key}",
        )
    return factory(request.fhirServer, token)


def _run(client: FhirClient, query: str) -> list[JSON]:
    path, _, raw = query.partition("?")
    if "/" in path:
        rtype, rid = path.split("/", 1)
        return [client.read(rtype, rid)]
    return client.search(path, parse_qsl(raw, keep_blank_values=True))


def _follow(client: FhirClient, url: str, key: str) -> list[JSON]:
    out: list[JSON] = []
    following: str | None = url
    try:
        for _ in range(100):
            if following is None:
                break
            page = parse_json(client.request("GET", following).content)
            out.extend(_unpack(page))
            following = next_link(page)
    except (ServerError, ValueError) as exc:
        raise HttpError(
            412, f"prefetch.{key}: its next page could not be read from fhirServer ({exc})"
        ) from exc
    return out


def _unpack(value: Mapping[str, Any]) -> list[JSON]:
    """The resources of a prefetch value or Bundle, without the OperationOutcomes of failed parts."""
    return [dict(r) for r in iter_resources([value]) if r.get("resourceType") != "OperationOutcome"]


@dataclass(frozen=True, slots=True)
class HookResult:
    cards: list[JSON]
    issues: int
    cached: bool = False


class AssessmentCache:
    """The last few assessments of hook calls whose data all came in the request (prefetch).

    A chart opened again with the same data sends the same prefetch: the key is a hash of the
    request body without what changes per call (hookInstance, the access token) plus the date,
    so a hit can only be the same data on the same day. Calls that fetched anything from the
    FHIR server are never cached (the server's data is not in the key).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Assessment] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def key(self, raw: bytes, request: HookRequest, today: date) -> str | None:
        """The cache key, or None when the per-call fields cannot be cut out unambiguously.

        Exactly the ``"hookInstance": "..."`` member (and the ``"access_token"`` one) is cut out,
        each only when it occurs once: anything else in the body stays in the key, so two bodies
        share a key only if they differ in nothing but those values.
        """
        spans = [("hookInstance", request.hookInstance)]
        if request.fhirAuthorization is not None:
            spans.append(("access_token", request.fhirAuthorization.access_token))
        for name, value in spans:
            member = re.compile(rb'"' + name.encode() + rb'"\s*:\s*' + re.escape(json.dumps(value).encode()))
            found = member.findall(raw)
            if len(found) != 1 or raw.count(b'"' + name.encode() + b'"') != 1:
                return None
            raw = member.sub(b"", raw)
        return hashlib.sha256(raw + today.isoformat().encode()).hexdigest()

    def get(self, key: str) -> Assessment | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return found

    def put(self, key: str, assessment: Assessment) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = assessment
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def call(
    service: Service,
    body: Any,
    catalogue: Catalogue,
    *,
    client_factory: ClientFactory = default_client,
    at: datetime | None = None,
    raw: bytes | None = None,
    cache: AssessmentCache | None = None,
) -> HookResult:
    request = parse_request(body, service)
    when = at or datetime.now(UTC)
    ordering: list[str] = []
    drafts: JSON = request.context.get("draftOrders") or {}
    if service.hook != "patient-view":
        draft_refs = [
            f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}"
            for e in drafts.get("entry") or []
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
        ]
        ordering = list(request.context["selections"]) if service.hook == "order-select" else draft_refs
    key = cache.key(raw, request, when.date()) if cache is not None and raw is not None else None
    assessment = cache.get(key) if cache is not None and key is not None else None
    cached = assessment is not None
    if assessment is None:
        resources, fetched = gather_with_source(request, client_factory)
        if service.hook != "patient-view":
            resources.extend(_unpack(drafts))
        context = read_context(resources, patient=request.context["patientId"])
        assessment = assess(context, catalogue, when)
        if cache is not None and key is not None and not fetched:
            cache.put(key, assessment)
    cards = cards_for(assessment, hook=service.hook, hook_instance=request.hookInstance, ordering=ordering)
    return HookResult(cards, len(assessment.issues), cached)
