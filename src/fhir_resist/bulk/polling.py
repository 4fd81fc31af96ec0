"""Waiting for an export: the status URL polled until the manifest is ready.

``202`` means in progress: ``X-Progress`` is passed on and the next poll waits as long as
``Retry-After`` asks (seconds or an HTTP date), or ``default_wait`` without one, never less than
``min_wait`` nor more than ``max_wait`` (HAPI always asks for 120 s). ``200`` carries the
manifest. A ``5xx`` (or ``429``, a network failure) is retried with back-off a bounded number of
times by the FHIR client; a ``4xx``, or a ``5xx`` that persists (HAPI answers a failed job with
``500`` and an OperationOutcome), is a ``ServerError``; so is a wait past ``timeout`` in all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fhir_resist.bulk.kickoff import prefixed
from fhir_resist.bulk.manifest import Manifest, parse_manifest
from fhir_resist.errors import ServerError
from fhir_resist.fhir.client import FhirClient, retry_after

log = logging.getLogger("fhir_resist.bulk")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """Seconds: the wait without ``Retry-After``, its bounds, and the longest wait in all."""

    default_wait: float = 10.0
    min_wait: float = 1.0
    max_wait: float = 120.0
    timeout: float = 6 * 3600.0


def relative(client: FhirClient, url: str) -> str:
    """``url`` relative to the client's base when under it (log lines then name the operation)."""
    return url[len(client.base) :] if url.startswith(client.base) else url


def poll(
    client: FhirClient,
    status_url: str,
    *,
    policy: PollPolicy,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    progress: Progress,
) -> tuple[Manifest, str]:
    """Poll until complete: the manifest and its JSON text as the server sent it."""
    started = clock()
    while True:
        try:
            response = client.request(
                "GET", relative(client, status_url), headers={"Accept": "application/json"}
            )
        except ServerError as exc:
            raise prefixed("bulk export status", exc) from exc
        if response.status_code == 200:
            text = response.content.decode("utf-8", errors="replace")
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise ServerError("export manifest: the status answer is not JSON", retryable=False) from exc
            return parse_manifest(data), text
        if response.status_code != 202:
            raise ServerError(
                f"bulk export status: the server answered {response.status_code}; expected 202 or 200",
                status=response.status_code,
                retryable=False,
            )
        wait = wait_for(response.headers.get("Retry-After"), policy)
        note = printable(response.headers.get("X-Progress") or "") or "in progress"
        if clock() + wait - started > policy.timeout:
            raise ServerError(
                f"bulk export status: not complete after {policy.timeout:.0f} s ({note}); given up",
                retryable=False,
            )
        progress(f"export {note}; next check in {wait:.0f} s")
        log.info("bulk export in progress; next poll in %.0f s", wait)
        sleep(wait)


def wait_for(header: str | None, policy: PollPolicy) -> float:
    """The pause before the next poll: ``Retry-After`` (seconds or HTTP date) within the bounds."""
    asked = retry_after(header)
    wait = policy.default_wait if asked is None else asked
    return min(policy.max_wait, max(policy.min_wait, wait))


def printable(text: str, limit: int = 200) -> str:
    """Server-sent text fit for a terminal line: no control characters (no escape sequences), at
    most ``limit`` characters."""
    return "".join(c for c in " ".join(text.split()) if c.isprintable())[:limit]
