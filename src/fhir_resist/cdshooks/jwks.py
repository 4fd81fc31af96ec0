"""JWK Sets from allow-listed ``jku`` URLs: cached, and never fetched on the event loop.

- A set is kept for an hour; a token whose ``kid`` it lacks fetches it again, at most once a minute.
- One fetch per URL at a time, in a thread of its own pool: every token naming that URL waits for
  the same fetch without holding the event loop, so ``/healthz`` and other calls go on meanwhile.
- A fetch has ``DEADLINE`` seconds (connect and each read are bounded too, and the body is
  capped); redirects are not followed: the keys come from the allow-listed URL itself.
- A failure (no answer in time, an error status, not a JWK Set) is remembered for ``FAILURE_TTL``
  seconds: tokens naming that URL meanwhile are refused at once, without another fetch, or are
  verified with the last set that was fetched, if there is one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from fhir_resist.errors import Unauthorized

TTL = 3600.0
REFETCH_GAP = 60.0
FAILURE_TTL = 30.0
DEADLINE = 3.0
MAX_BYTES = 512 * 1024

Fetch = Callable[[str], Mapping[str, Any]]


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """The JWK Set at ``url``: ``requests`` errors, or ``ValueError`` when it is none (or too big,
    or slower than the deadline)."""
    started = time.monotonic()
    with requests.get(
        url,
        headers={"Accept": "application/json"},
        timeout=(DEADLINE, DEADLINE),
        stream=True,
        allow_redirects=False,
    ) as response:
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        body = b""
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > MAX_BYTES or time.monotonic() - started > DEADLINE:
                raise ValueError("too big or too slow")
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWK Set")
    return data


@dataclass(frozen=True, slots=True)
class _Fetched:
    at: float
    keys: Mapping[str, Any]


class JwksCache:
    def __init__(self, fetch: Fetch = fetch_jwks, *, clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch
        self._clock = clock
        self._sets: dict[str, _Fetched] = {}
        self._failed: dict[str, float] = {}
        self._pending: dict[str, Future[Mapping[str, Any]]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fhir-resist-jwks")

    async def keys(self, url: str, *, refresh: bool = False) -> Mapping[str, Any]:
        """The JWK Set at ``url``, cached; fetched again when ``refresh`` (a ``kid`` was not in it)
        and the last fetch is over a minute old. ``Unauthorized`` when there is none to be had."""
        now = self._clock()
        with self._lock:
            cached = self._sets.get(url)
            if (
                cached is not None
                and now - cached.at < TTL
                and not (refresh and now - cached.at > REFETCH_GAP)
            ):
                return cached.keys
            failed = self._failed.get(url)
            if failed is not None and now - failed < FAILURE_TTL:
                return _last(cached, "it failed moments ago")
            pending = self._pending.get(url)
            if pending is None:
                pending = self._pending[url] = self._pool.submit(self._fetch_and_keep, url)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(pending)), DEADLINE)
        except TimeoutError:
            with self._lock:
                self._failed[url] = self._clock()
            return _last(cached, "no answer in time")
        except (requests.RequestException, ValueError) as exc:
            return _last(cached, type(exc).__name__)

    def _fetch_and_keep(self, url: str) -> Mapping[str, Any]:
        """In a pool thread: the fetch, its result (or its failure) kept for the next token."""
        try:
            keys = self._fetch(url)
        except BaseException:
            with self._lock:
                self._failed[url] = self._clock()
                del self._pending[url]
            raise
        with self._lock:
            self._sets[url] = _Fetched(self._clock(), keys)
            self._failed.pop(url, None)
            del self._pending[url]
        return keys

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _last(cached: _Fetched | None, why: str) -> Mapping[str, Any]:
    if cached is None:
        raise Unauthorized(f"JWK Set not available ({why})")
    return cached.keys
