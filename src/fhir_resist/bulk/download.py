"""One export file streamed to disk, never whole in memory, resumed where it stopped.

The file grows in ``<name>.part`` and is renamed when complete. A ``.part`` left by an interrupted
attempt (in this run or an earlier one) is continued with ``Range: bytes=N-``: a ``206`` whose
``Content-Range`` starts at ``N`` is appended, a ``200`` (HAPI serves Binary content whole) starts
the file again, and so does a ``416``. A broken connection, a time-out, ``429`` or ``5xx`` is
retried a bounded number of times with back-off; another status is a ``ServerError``. Redirects
are not followed. The bearer token is added only when the caller says so (the file is on the FHIR
server's origin and the manifest requires it); files are ``0600`` (they hold patient data).
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from fhir_resist.errors import ServerError
from fhir_resist.fhir.client import FhirClient, error_of, retry_after
from fhir_resist.fhir.state_files import PRIVATE_FILE
from fhir_resist.version import VERSION

if TYPE_CHECKING:
    import requests

log = logging.getLogger("fhir_resist.bulk")

NDJSON = "application/fhir+ndjson"
CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A complete file: its size, its lines (one resource each) and whether a part was resumed."""

    path: Path
    size: int
    resources: int
    resumed: bool


@dataclass(frozen=True, slots=True)
class _Failed:
    """An attempt that failed: the error, and the wait a retry should keep to (None: back off)."""

    error: ServerError
    wait: float | None = None
    restart: bool = False  # the part cannot be continued: the next attempt starts the file again


def download(
    client: FhirClient,
    url: str,
    target: Path,
    *,
    with_token: bool,
    sleep: Callable[[float], None],
    name: str,
) -> Downloaded:
    """``url`` into ``target`` (``name``: how messages call the file, never its URL)."""
    part = target.with_name(target.name + ".part")
    resumed = False
    refreshed = False
    attempt = 0
    while True:
        attempt += 1
        offset = part.stat().st_size if part.exists() else 0
        outcome = _fetch(client, url, part, offset, with_token=with_token, name=name)
        if not isinstance(outcome, _Failed):
            resumed = resumed or outcome == "ab"
            break
        failure = outcome.error
        if outcome.restart:
            part.unlink(missing_ok=True)
        if failure.status == 401 and with_token and not refreshed:
            refreshed = True
            client.authorization(refresh=True)
            attempt -= 1
            continue
        if not failure.retryable or attempt >= client.retry.attempts:
            failure.attempts = attempt
            raise failure
        sleep(outcome.wait if outcome.wait is not None else _backoff(client, attempt))
    os.replace(part, target)
    return Downloaded(target, target.stat().st_size, count_lines(target), resumed)


def _fetch(
    client: FhirClient, url: str, part: Path, offset: int, *, with_token: bool, name: str
) -> str | _Failed:
    """One attempt: the mode the part was written in (``ab``: continued), or why it failed."""
    headers = {"Accept": NDJSON, "User-Agent": f"fhir-resist/{VERSION}"}
    if with_token:
        headers.update(client.authorization())
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = client.session.get(
            url, headers=headers, stream=True, timeout=client.timeout, allow_redirects=False
        )
    except _transport_errors() as exc:
        log.warning("download of an export file failed: %s", type(exc).__name__)
        return _Failed(ServerError(f"download of {name}: the file server could not be reached"))
    with response:
        mode = _mode(response, offset, name)
        log.info("download of an export file -> %d (from byte %d)", response.status_code, offset)
        if isinstance(mode, _Failed):
            return mode
        try:
            with _open(part, mode) as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
        except _transport_errors() as exc:
            log.warning("download of an export file broke off: %s", type(exc).__name__)
            return _Failed(ServerError(f"download of {name}: the connection broke off"))
    return mode


def _mode(response: requests.Response, offset: int, name: str) -> str | _Failed:
    """``ab`` to continue the part, ``wb`` to start it again, or why not."""
    status = response.status_code
    if status == 206 and offset and _range_start(response.headers.get("Content-Range")) == offset:
        return "ab"
    kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if status == 200 and kind in ("application/fhir+json", "application/json+fhir"):
        return _Failed(
            ServerError(
                f"download of {name}: the server sent a FHIR resource ({kind}), not NDJSON",
                status=status,
                retryable=False,
            )
        )
    if status == 200:
        return "wb"
    if status in (206, 416):
        # the part is not what the server can continue (changed, or longer than the file): again
        text = "the partial file cannot be continued"
        return _Failed(ServerError(f"download of {name}: {text}"), wait=0.0, restart=True)
    if status < 400:
        text = f"the file server answered {status}, a redirect; redirects are not followed"
        return _Failed(ServerError(f"download of {name}: {text}", status=status, retryable=False))
    failure = error_of(response, f"download of {name}")
    return _Failed(failure, wait=retry_after(response.headers.get("Retry-After")))


def _range_start(value: str | None) -> int | None:
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (value or "").strip())
    return int(match.group(1)) if match else None


@contextmanager
def _open(path: Path, mode: str) -> Iterator[IO[bytes]]:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "ab" else os.O_TRUNC)
    handle = os.open(path, flags, PRIVATE_FILE)
    with os.fdopen(handle, mode) as out:
        yield out
        out.flush()
        os.fsync(out.fileno())


def count_lines(path: Path) -> int:
    """Non-blank lines (resources) of an NDJSON file, read a block at a time."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                count += 1
    return count


def _backoff(client: FhirClient, attempt: int) -> float:
    ceiling = min(client.retry.max_backoff, client.retry.backoff * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not security


def _transport_errors() -> tuple[type[Exception], ...]:
    import requests

    return (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
