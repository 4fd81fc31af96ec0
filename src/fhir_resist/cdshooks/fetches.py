"""Fair shares of the service's threads for work that waits on a FHIR server, and its cancellation.

A hook call that must fetch from a FHIR server holds a thread for as long as that server takes;
a server that never answers holds it until the client's timeouts. So each caller (the CDS
client's JWT issuer; with authentication off, the ``fhirServer`` origin) may have only
``caller_fetches`` such calls at once: one more is answered 429 with ``Retry-After`` at once,
and no caller can take every thread from the others. Posted reports share the same kind of
bound (``reports_at_once``).

A call's fetching stops when nobody waits for it any more (the deadline passed, the client
disconnected): every request to the FHIR server first checks the call's ``stop`` event, so no
further page, search or retry is sent (a request already sent runs to its timeout).
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Any

import requests

from fhir_resist.cdshooks.prefetch import ClientFactory
from fhir_resist.errors import Abandoned, HttpError
from fhir_resist.fhir.addresses import origin
from fhir_resist.fhir.client import FhirClient


class Shares:
    """At most ``limit`` pieces of work at once per key; a key over its share is refused."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    def take(self, key: str) -> bool:
        """One share for the key, if it has one left."""
        with self._lock:
            if self._held[key] >= self.limit:
                return False
            self._held[key] += 1
            return True

    def give_back(self, key: str) -> None:
        with self._lock:
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]

    def held(self, key: str | None = None) -> int:
        """Shares held by the key (by every key: None)."""
        with self._lock:
            return self._held[key] if key is not None else sum(self._held.values())


def busy(what: str, retry_after: float) -> HttpError:
    """The 429 for work over its share, with when to try again."""
    seconds = str(max(1, math.ceil(retry_after)))
    return HttpError(429, f"{what}; try again in {seconds} s", headers={"Retry-After": seconds})


class StoppingSession(requests.Session):
    """A session that sends nothing once ``stop`` is set (``Abandoned`` instead)."""

    def __init__(self, inner: requests.Session, stop: threading.Event) -> None:
        super().__init__()
        self._inner = inner
        self._stop = stop

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self._stop.is_set():
            raise Abandoned("nobody waits for the answer any more: not fetched")
        return self._inner.request(method, url, *args, **kwargs)

    def close(self) -> None:
        self._inner.close()
        super().close()


class CallFetches:
    """One hook call's client factory: the first client takes a share of the caller's fetches
    (429 when none is left), every client stops with the call; ``release`` gives the share back
    once the call's work has ended."""

    def __init__(
        self,
        shares: Shares,
        caller: str | None,
        factory: ClientFactory,
        stop: threading.Event,
        retry_after: float,
    ) -> None:
        self._shares = shares
        self._caller = caller
        self._factory = factory
        self._stop = stop
        self._retry_after = retry_after
        self._held: str | None = None

    def client(self, base: str, token: str | None) -> FhirClient:
        if self._held is None:
            key = self._caller or _origin_of(base)
            if not self._shares.take(key):
                raise busy(
                    f"this caller already has {self._shares.limit} calls waiting on a FHIR server",
                    self._retry_after,
                )
            self._held = key
        client = self._factory(base, token)
        client.session = StoppingSession(client.session, self._stop)
        return client

    def release(self) -> None:
        if self._held is not None:
            self._shares.give_back(self._held)
            self._held = None


def _origin_of(base: str) -> str:
    try:
        return "origin " + origin(base)
    except ValueError:
        return "origin " + base
