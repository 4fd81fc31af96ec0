"""A hook call's data: prefetch where the EHR sent it, fetched through ``fhirServer`` where not.

CDS Hooks 2.0: a key sent with ``null`` means "no data"; a missing key (or an OperationOutcome
in its place) means "not tried", and is fetched; a prefetched Bundle with a ``next`` link has
its further pages read. When the data cannot be had: 412, and no cards from part of the record.

Fetching goes only to a ``fhirServer`` the caller may name (``allowed_only``; else 412 before any
request). A 412 states which key failed and how (the status code, or that the server could not be
reached); never the server's answer, which, with the status, goes to the log without its body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast
from urllib.parse import parse_qsl

from fhir_resist.cdshooks.fhir_servers import AllowedServer, allowed
from fhir_resist.cdshooks.hook_request import HookRequest
from fhir_resist.cdshooks.hook_services import PREFETCH
from fhir_resist.errors import HttpError, ServerError
from fhir_resist.fhir.addresses import origin
from fhir_resist.fhir.client import FhirClient, Retry, next_link, unique
from fhir_resist.fhir.read import iter_resources
from fhir_resist.files import parse_json

JSON = dict[str, Any]
log = logging.getLogger("fhir_resist.service")
ClientFactory = Callable[[str, str | None], FhirClient]
MAX_PAGES = 100  # pages of one prefetch key, the prefetched one included (as FhirClient.search)


class Prefetched(Enum):
    """What the EHR sent for one prefetch key."""

    NO_DATA = "null"  # null: the EHR says there is none; nothing to fetch
    SENT = "sent"  # a resource, or a Bundle without a next link
    MORE_PAGES = "sent, more pages"  # a Bundle with a next link: the further pages are fetched
    MISSING = "missing"  # absent, or an OperationOutcome in its place: fetched
    INVALID = "invalid"  # neither a resource nor null: a 400

    @property
    def needs_server(self) -> bool:
        return self in (Prefetched.MISSING, Prefetched.MORE_PAGES)


NOT_SENT: Any = object()  # the value of a key the EHR did not send


def prefetched(value: Any) -> Prefetched:
    """The state of one prefetch key's value (``NOT_SENT`` for a key not sent)."""
    if value is None:
        return Prefetched.NO_DATA
    if isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome"):
        more = value.get("resourceType") == "Bundle" and next_link(value)
        return Prefetched.MORE_PAGES if more else Prefetched.SENT
    if value is not NOT_SENT and not isinstance(value, dict):
        return Prefetched.INVALID
    return Prefetched.MISSING


def needs_server(request: HookRequest) -> bool:
    """Whether answering the call needs the FHIR server (a key not prefetched, or more pages)."""
    prefetch = request.prefetch or {}
    return any(prefetched(prefetch.get(key, NOT_SENT)).needs_server for key in PREFETCH)


def default_client(base: str, token: str | None) -> FhirClient:
    """The client for fetching what prefetch did not bring. A clinician is waiting: two attempts,
    short timeouts and waits, then 412 (the EHR shows no card rather than a late one)."""
    return FhirClient(
        base, token=token, timeout=(2.0, 4.0), retry=Retry(attempts=2, max_backoff=0.5, max_wait=1.0)
    )


def allowed_only(
    factory: ClientFactory, servers: Iterable[AllowedServer] | None, caller: str
) -> ClientFactory:
    """``factory``, for a ``fhirServer`` on ``servers`` only (None: any); another is refused 412
    before any client exists, so nothing is fetched there and the access token goes nowhere."""
    listed = tuple(servers) if servers is not None else None

    def make(base: str, token: str | None) -> FhirClient:
        if not allowed(base, listed):
            log.warning(
                "fhirServer %s is not a FHIR server %s may name: nothing fetched", origin(base), caller
            )
            raise HttpError(
                412,
                "fhirServer: not a FHIR server this service may fetch from for the calling EHR; "
                "send the data as prefetch, or have the server added to the EHR's configured FHIR servers",
                expression="fhirServer",
            )
        return factory(base, token)

    return make


@dataclass(frozen=True, slots=True)
class Gathered:
    """The patient's resources, each once, and whether any was fetched from the FHIR server."""

    resources: list[JSON]
    fetched: bool


def gather_with_source(request: HookRequest, client_factory: ClientFactory = default_client) -> Gathered:
    """The patient's resources: prefetch where given, fetched through fhirServer where not."""
    patient = str(request.context["patientId"])
    prefetch = request.prefetch or {}
    client: FhirClient | None = None
    resources: list[JSON] = []
    for key, template in PREFETCH.items():
        value = prefetch.get(key, NOT_SENT)
        state = prefetched(value)
        if state is Prefetched.INVALID:
            raise HttpError(400, f"prefetch.{key}: not a FHIR resource or null", expression=f"prefetch.{key}")
        if state in (Prefetched.SENT, Prefetched.MORE_PAGES):
            resources.extend(unpack(value))
        if not state.needs_server:
            continue
        client = client or _client(request, client_factory, key)
        if state is Prefetched.MORE_PAGES:
            resources.extend(_follow(client, next_link(value) or "", key))
        else:
            resources.extend(_fetch(client, template.replace("{{context.patientId}}", patient), key))
    return Gathered(unique(resources), client is not None)


def _client(request: HookRequest, factory: ClientFactory, key: str) -> FhirClient:
    if not request.fhirServer:
        raise HttpError(
            412,
            f"prefetch.{key} was not sent and no fhirServer was given to fetch it from",
            expression=f"prefetch.{key}",
        )
    return factory(request.fhirServer, request.token)


def _fetch(client: FhirClient, query: str, key: str) -> list[JSON]:
    """What a prefetch template asks for, read or searched (every page) at fhirServer."""
    path, _, raw = query.partition("?")
    try:
        if "/" in path:
            rtype, rid = path.split("/", 1)
            return [client.read(rtype, rid)]
        return client.search(path, parse_qsl(raw, keep_blank_values=True))
    except ServerError as exc:
        raise HttpError(
            412, f"prefetch.{key} was not sent and fhirServer failed: {_failure(exc, key)}"
        ) from None


def _follow(client: FhirClient, url: str, key: str) -> list[JSON]:
    """The resources of the pages after a prefetched one, ``next`` links followed at fhirServer.

    As ``FhirClient.search``: more than ``MAX_PAGES`` pages in all (the prefetched one included)
    is refused, never cut short; the call is answered 412 rather than on part of the record.
    """
    out: list[JSON] = []
    following: str | None = url
    pages = 1
    while following is not None:
        if pages == MAX_PAGES:
            raise HttpError(
                412,
                f"prefetch.{key}: more than {MAX_PAGES} pages to read at fhirServer; "
                "the call is not answered on part of the record",
                expression=f"prefetch.{key}",
            )
        page = _page(client, following, key)
        pages += 1
        out.extend(unpack(page))
        following = next_link(page)
    return out


def _page(client: FhirClient, url: str, key: str) -> JSON:
    try:
        response = client.request("GET", url)
    except ServerError as exc:
        raise HttpError(
            412, f"prefetch.{key}: its next page could not be read from fhirServer ({_failure(exc, key)})"
        ) from None
    try:
        page = parse_json(response.content)
    except ValueError:
        log.warning(
            "prefetch.%s: a next page from fhirServer is not JSON (HTTP %d)", key, response.status_code
        )
        raise HttpError(
            412, f"prefetch.{key}: its next page could not be read from fhirServer (not JSON)"
        ) from None
    if not isinstance(page, dict):
        raise HttpError(
            412, f"prefetch.{key}: its next page could not be read from fhirServer (not a FHIR resource)"
        )
    return page


def _failure(exc: ServerError, key: str) -> str:
    """How fetching failed, in the service's words: the status code, never the server's answer.
    The log gets the same, without the answer's body (it may hold patient data)."""
    log.warning(
        "prefetch.%s: fhirServer failed (status %s, %s, %d attempt(s))",
        key,
        exc.status if exc.status is not None else "none",
        "retryable" if exc.retryable else "not retryable",
        exc.attempts,
    )
    if exc.status is not None and exc.status >= 400:
        return f"it answered HTTP {exc.status}"
    if exc.status is not None:
        return f"its answer (HTTP {exc.status}) is not a FHIR resource"
    if not exc.retryable:  # the client's own refusal: a page limit, or a link to another server
        return str(exc)
    return "it could not be reached, did not answer in time, or did not answer with a Bundle"


def unpack(value: Mapping[str, Any]) -> list[JSON]:
    """The resources of a prefetch value or Bundle, without the OperationOutcomes of failed parts:
    the parsed request's own objects, not copies (nothing downstream changes them)."""
    return [cast(JSON, r) for r in iter_resources([value]) if r.get("resourceType") != "OperationOutcome"]
