"""A small FHIR R4 REST client on ``requests``: read, search with paging, transactions.

What it does for the caller:
- ``Accept``/``Content-Type: application/fhir+json``; a bearer token, fixed or from a token
  source (SMART backend services, ``fhir.auth``), refreshed once on 401.
- Bounded retries with exponential backoff for what a retry can fix: connection failures,
  timeouts, 429 and 5xx (a gateway or rate limiter in front of the server sends 429/502/503/504,
  often with a non-FHIR body); ``Retry-After`` in seconds or as an HTTP date is honoured, up to
  ``max_wait``. Transactions are safe to retry because the bundles we send are idempotent.
- Every failure is a ``ServerError`` carrying the status and the server's OperationOutcome
  text (HAPI's ``HAPI-NNNN:`` diagnostics), marked retryable or not.
- Searches follow ``link[next]`` (HAPI's ``_getpages`` links) and keep ``_include``d resources.

No PHI is logged: log lines carry method, resource type, status and timing only.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urljoin

from fhir_resist import terminology
from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.addresses import bearer_token, is_fhir_id, origin
from fhir_resist.files import parse_json
from fhir_resist.version import VERSION

if TYPE_CHECKING:  # requests is imported by the first client, not by importing this module
    import requests

JSON = dict[str, Any]
log = logging.getLogger("fhir_resist.client")

FHIR_JSON = "application/fhir+json"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})

# What a patient's record is fetched with: (resource type, search parameters). The genomic
# Observations come twice on purpose: through their reports (whatever their code, with their
# groupings and specimens) and by code (results sent without a report).
GENOMIC_CODES = ",".join(
    f"{terminology.LOINC}|{code}"
    for code in (terminology.VARIANT, terminology.MSI, terminology.MSI_IHC, terminology.TMB)
)
PATIENT_QUERIES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Condition", (("patient", "{pid}"),)),
    ("MedicationRequest", (("patient", "{pid}"), ("_include", "MedicationRequest:medication"))),
    ("MedicationStatement", (("patient", "{pid}"), ("_include", "MedicationStatement:medication"))),
    (
        "MedicationAdministration",
        (("patient", "{pid}"), ("_include", "MedicationAdministration:medication")),
    ),
    (
        "DiagnosticReport",
        (
            ("patient", "{pid}"),
            ("_include", "DiagnosticReport:result"),
            ("_include", "DiagnosticReport:specimen"),
            ("_include:iterate", "Observation:has-member"),
        ),
    ),
    ("Observation", (("patient", "{pid}"), ("code", GENOMIC_CODES), ("_include", "Observation:specimen"))),
)


class TokenSource(Protocol):
    """Anything that hands out bearer tokens (``fhir.auth.BackendServicesAuth``)."""

    def token(self, *, refresh: bool = False) -> str: ...


@dataclass(frozen=True, slots=True)
class Retry:
    """How hard to try: attempts in all, backoff base and cap, longest Retry-After obeyed."""

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 60.0


class FhirClient:
    def __init__(
        self,
        base: str,
        *,
        token: str | None = None,
        auth: TokenSource | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: Retry = Retry(),
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base.startswith(("http://", "https://")):
            raise InputError(f"'{base}' is not an http(s) URL", where="FHIR server")
        self.base = base.rstrip("/") + "/"
        if token:
            bearer_token(token)
        self._token = token
        self._auth = auth
        self.timeout = timeout
        self.retry = retry
        if session is None:
            import requests

            session = requests.Session()
        self.session = session
        self._sleep = sleep

    # ---- resource-level operations -------------------------------------------------------

    def read(self, rtype: str, rid: str) -> JSON:
        return self._json(self.request("GET", f"{rtype}/{quote(rid, safe='')}"), f"{rtype}/{rid}")

    def search(self, rtype: str, params: Iterable[tuple[str, str]], *, max_pages: int = 100) -> list[JSON]:
        """Every resource of every page (matches and includes), in server order."""
        response = self.request("GET", rtype, params=list(params))
        found: list[JSON] = []
        for page in range(max_pages):
            bundle = self._json(response, f"search {rtype}")
            if bundle.get("resourceType") != "Bundle":
                raise ServerError(f"search {rtype}: the server answered a {bundle.get('resourceType')}")
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict):
                    found.append(resource)
            following = next_link(bundle)
            if following is None:
                return found
            if page + 1 == max_pages:
                break
            response = self.request("GET", following)
        raise ServerError(f"search {rtype}: more than {max_pages} pages; narrow the search", retryable=False)

    def transaction(self, bundle: Mapping[str, Any]) -> JSON:
        response = self.request("POST", "", body=bundle)
        result = self._json(response, "transaction")
        if result.get("resourceType") != "Bundle" or result.get("type") != "transaction-response":
            raise ServerError(
                f"transaction: expected a transaction-response Bundle, got {result.get('resourceType')}"
                f"/{result.get('type')}"
            )
        return result

    def patient_resources(self, patient_id: str) -> list[JSON]:
        """The patient and what fhir_resist reads of their record, each resource once."""
        if not is_fhir_id(patient_id):
            raise InputError("not a FHIR id (letters, digits, '-' and '.', at most 64)", where="patient")
        resources = [self.read("Patient", patient_id)]
        for rtype, template in PATIENT_QUERIES:
            params = [(k, v.format(pid=patient_id)) for k, v in template]
            resources.extend(self.search(rtype, params))
        return unique(resources)

    # ---- HTTP ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One request with bounded retries; the final failure raises ``ServerError``. Redirects
        are not followed (a 3xx is a refusal): the access token goes to the FHIR server only."""
        url = self._url(method, path)
        data = json.dumps(body).encode() if body is not None else None
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            answer = self._send(method, url, path, params=params, data=data, headers=headers, attempt=attempt)
            wait = None
            if isinstance(answer, ServerError):
                failure = answer
            elif answer.status_code < 300:
                return answer
            elif answer.status_code == 401 and self._auth is not None and not refreshed:
                refreshed = True
                self._auth.token(refresh=True)
                attempt -= 1
                continue
            else:
                failure = _refusal(answer, f"{method} {_what(path)}")
                wait = retry_after(answer.headers.get("Retry-After"))
            if not failure.retryable or attempt >= self.retry.attempts or (wait or 0) > self.retry.max_wait:
                failure.attempts = attempt
                raise failure
            self._sleep(wait if wait is not None else self._backoff(attempt))

    def _url(self, method: str, path: str) -> str:
        """The URL of ``path`` at the FHIR server; a link to another server is refused."""
        url = path if path.startswith(("http://", "https://")) else urljoin(self.base, path)
        if origin(url) != origin(self.base):
            # A link (a next page) to another server: never followed, so the access token never
            # leaves the configured server and no other address is fetched on its behalf.
            raise ServerError(
                f"{method} {_what(path)}: the link points at {origin(url)}, not at the FHIR server "
                f"{origin(self.base)}; not followed (the access token is sent only to that server)",
                retryable=False,
            )
        return url

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        attempt: int,
    ) -> requests.Response | ServerError:
        """The server's response, or the ``ServerError`` of a request that got none."""
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=self._headers(headers),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except _transport_errors() as exc:
            log.warning("%s %s failed: %s (attempt %d)", method, _what(path), type(exc).__name__, attempt)
            return ServerError(f"{method} {_what(path)}: {_network(exc)}", retryable=True)
        elapsed = 1000 * (time.perf_counter() - started)
        log.info("%s %s -> %d in %.0f ms", method, _what(path), response.status_code, elapsed)
        return response

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {
            "Accept": FHIR_JSON,
            "Content-Type": f"{FHIR_JSON}; charset=utf-8",
            "User-Agent": f"fhir-resist/{VERSION}",
            **self.authorization(),
        }
        headers.update(extra or {})
        return headers

    def authorization(self, *, refresh: bool = False) -> dict[str, str]:
        """The ``Authorization`` header for this server (none without a token); ``refresh``: a new
        token from the token source. Only for requests to this server's origin."""
        if self._auth is not None:
            token: str | None = self._auth.token(refresh=refresh)
        else:
            token = self._token
        return {"Authorization": f"Bearer {bearer_token(token)}"} if token else {}

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_backoff, self.retry.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security

    @staticmethod
    def _json(response: requests.Response, what: str) -> JSON:
        try:
            data = parse_json(response.content)
        except ValueError as exc:
            raise ServerError(
                f"{what}: the server's answer is not JSON ({_snippet(response.text)})",
                status=response.status_code,
            ) from exc
        if not isinstance(data, dict):
            raise ServerError(
                f"{what}: the server's answer is not a FHIR resource", status=response.status_code
            )
        return data


def _refusal(response: requests.Response, what: str) -> ServerError:
    """The error of a response that is no success: a redirect (never followed) or an error status."""
    status = response.status_code
    if status < 400:
        return ServerError(
            f"{what}: the server answered {status} {response.reason or ''}".rstrip()
            + ", a redirect; redirects are not followed (the access token is sent only to the "
            "FHIR server named in the settings)",
            status=status,
            retryable=False,
        )
    return error_of(response, what)


def error_of(response: requests.Response, what: str) -> ServerError:
    """A ServerError with the status and the OperationOutcome's text (or the body's start)."""
    status = response.status_code
    outcome: JSON | None = None
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
            outcome = body
    except ValueError:
        pass
    text = outcome_text(outcome) if outcome is not None else _snippet(response.text)
    reason = response.reason or ""
    message = f"{what}: the server answered {status} {reason}".rstrip() + (f": {text}" if text else "")
    return ServerError(message, status=status, retryable=status in RETRYABLE_STATUS, outcome=outcome)


def outcome_text(outcome: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
        if isinstance(text, str) and text:
            parts.append(text)
    return "; ".join(parts)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def unique(resources: Iterable[JSON]) -> list[JSON]:
    """Each Type/id once (a resource found by two searches or included twice), order kept."""
    seen: set[str] = set()
    kept: list[JSON] = []
    for resource in resources:
        key = f"{resource.get('resourceType')}/{resource.get('id')}"
        if resource.get("id") is not None and key in seen:
            continue
        seen.add(key)
        kept.append(resource)
    return kept


def _what(path: str) -> str:
    """What a request addressed, without query or ids (no PHI in logs or messages)."""
    if path.startswith(("http://", "https://")):
        return "next page"
    head = path.split("?", 1)[0].split("/", 1)[0]
    return head or "transaction"


def _transport_errors() -> tuple[type[Exception], ...]:
    """What a request raises when the server could not be reached or did not answer in time."""
    import requests

    return (requests.ConnectionError, requests.Timeout)


def _network(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.Timeout):
        return "the server did not answer in time"
    return "the server could not be reached"


def _snippet(text: str) -> str:
    """The start of a non-FHIR body as one line of text (a gateway's HTML page loses its tags)."""
    flat = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return flat[:200] + ("…" if len(flat) > 200 else "")
