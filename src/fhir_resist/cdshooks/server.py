"""The HTTP server's limits before any request reaches the app (so before authentication).

uvicorn's httptools protocol has no limit on a request head's size (httptools gathers a header
of any length in memory: 8 heads of 64 MiB took a service from 139 to 550 MiB) and no limit on
the time a head may take (a connection holding half a header stays open). ``LimitedHttpTools``
adds both, per connection:

- a head over ``max_head`` bytes is answered ``431`` and the connection closed; no byte past
  the limit is handed to the parser, so the memory a head can take is bounded;
- a head not complete within ``head_timeout`` seconds of its first byte (of the connection,
  for the first request) is answered ``408`` and the connection closed.

``uvicorn_options`` adds uvicorn's own limits: connections served at once (``503`` beyond) and
the idle keep-alive time. Refusals are counted (``refusals``, rendered on ``/metrics``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fhir_resist.cdshooks.limits import Limits

if TYPE_CHECKING:
    from fhir_resist.cdshooks.metrics import Metrics

log = logging.getLogger("fhir_resist.service")


class _Refusals:
    """How many request heads the server refused, by reason: counted in this process, and in the
    service's shared counters once the service attaches them (``attach``), so that with several
    worker processes ``/metrics`` shows every process's refusals."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._sink: Metrics | None = None

    def attach(self, sink: Metrics) -> None:
        """Count refusals into the service's counters too."""
        self._sink = sink

    def detach(self, sink: Metrics) -> None:
        """Count in this process only again, if ``sink`` is the one attached."""
        if self._sink is sink:
            self._sink = None

    @property
    def shared(self) -> bool:
        return self._sink is not None

    def inc(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1
        sink = self._sink
        if sink is not None:
            sink.inc("request_heads_refused", reason=reason)

    def value(self, reason: str) -> int:
        return self._counts[reason]

    def render(self) -> str:
        with self._lock:
            return "".join(
                f'fhir_resist_request_heads_refused_total{{reason="{reason}"}} {count}\n'
                for reason, count in sorted(self._counts.items())
            )


refusals = _Refusals()


@functools.cache
def _limits_from_env() -> Limits:
    return Limits.from_env()


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a bound on each request head's bytes and time.

    ``limits``: the class's limits (``with_limits``); None: from the environment (the class
    as ``serve --workers N`` names it to each worker process).
    """

    limits: ClassVar[Limits | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = type(self).limits or _limits_from_env()
        self._max_head = chosen.max_head
        self._head_timeout = chosen.head_timeout
        self._in_head = True  # the next bytes are a request head
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_head:
            super().data_received(data)
            return
        room = self._max_head - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            super().data_received(data)
            return
        super().data_received(data[:room])  # the head may end within the limit
        if self._in_head and not self.transport.is_closing():
            self._refuse(431, "Request Header Fields Too Large", "size")
            return
        if not self.transport.is_closing():
            super().data_received(data[room:])

    # parser callbacks: where a head begins and ends
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        if self._head_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # the next request's head; its timer starts with its first byte
        self._head_bytes = 0

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self._head_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(408, "Request Timeout", "time")

    def _refuse(self, status: int, reason: str, counted: str) -> None:
        refusals.inc(counted)
        log.info("request head refused (%d %s)", status, reason)
        message = reason.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, message, len(message), message)
        )
        self._in_head = False
        self._disarm()
        self.transport.close()


def with_limits(limits: Limits) -> type[LimitedHttpTools]:
    """The protocol class holding these limits."""
    return type("LimitedHttpTools", (LimitedHttpTools,), {"limits": limits})


def uvicorn_options(limits: Limits, *, workers: int = 1) -> dict[str, Any]:
    """The options of ``uvicorn.run`` / ``uvicorn.Config`` that apply the limits. Several worker
    processes name the protocol by its import path; each reads the limits from the environment."""
    protocol: type[LimitedHttpTools] | str = (
        with_limits(limits) if workers == 1 else f"{__name__}:{LimitedHttpTools.__name__}"
    )
    return {
        "http": protocol,
        "limit_concurrency": limits.max_connections,
        "timeout_keep_alive": limits.keep_alive,
    }
