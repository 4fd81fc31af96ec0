"""The HTTP server's limits before the app (and so before authentication), on a real uvicorn server
spoken to through raw sockets: request-head size and time, connections at once, keep-alive."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.cdshooks.metrics import Metrics
from fhir_resist.cdshooks.server import LimitedHttpTools, refusals, uvicorn_options, with_limits
from fhir_resist.cdshooks.shared_state import SharedState

LIMITS = Limits(max_head=8 * 1024, head_timeout=0.5, max_connections=4, keep_alive=1)
WAIT = 30.0  # seconds a test waits for what must happen (never a measured figure)


class Running:
    """A uvicorn server in a thread on a free loopback port."""

    def __init__(self, server: uvicorn.Server) -> None:
        self.server = server
        self.thread = threading.Thread(target=server.run, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        until = time.monotonic() + WAIT
        while not self.server.started:
            assert time.monotonic() < until, "the server did not start"
            time.sleep(0.01)
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT)


@pytest.fixture
def port(tmp_path: Path, catalogue: Catalogue) -> Iterator[int]:
    settings = ServiceSettings(auth="off", feedback_path=tmp_path / "feedback.jsonl")
    app = create_app(settings, catalogue=catalogue)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **uvicorn_options(LIMITS))
    with Running(uvicorn.Server(config)) as bound:
        yield bound


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the answer is complete)."""
    out = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk
        if b"\r\n\r\n" in out and b"connection: close" not in out.lower():
            head, _, body = out.partition(b"\r\n\r\n")
            length = [int(v) for k, v in _headers(head) if k == "content-length"]
            if length and len(body) >= length[0]:
                return out


def _headers(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines)]


def _send_all(sock: socket.socket, data: bytes) -> int:
    """Bytes sent before the server closed the connection."""
    sent = 0
    try:
        while sent < len(data):
            sent += sock.send(data[sent : sent + 65536])
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_a_normal_request_is_answered(port: int) -> None:
    with _connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")


def test_an_oversized_head_is_refused_431_and_not_read(port: int) -> None:
    before = refusals.value("size")
    huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (64 * 1024 * 1024)
    with _connect(port) as sock:
        sent = _send_all(sock, huge)
        answer = _answer(sock)
    # the 431, unless the reset for the bytes it never read overtook it
    assert answer.startswith(b"HTTP/1.1 431 ") or answer == b""
    assert sent < len(huge)  # the server stopped reading: the 64 MiB were never taken in
    assert refusals.value("size") == before + 1


def test_a_head_within_the_limit_with_a_large_body_is_served(port: int) -> None:
    body = b"{" + b" " * (3 * LIMITS.max_head) + b"}"
    head = b"POST /cds-services/fhir-resist-patient-view HTTP/1.1\r\nHost: x\r\n"
    head += b"Content-Type: application/json\r\n"
    with _connect(port) as sock:
        sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 400 ")  # read by the app (an empty object is not a hook request)


def test_a_slow_head_is_closed(port: int) -> None:
    before = refusals.value("time")
    with _connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        answer = _answer(sock)  # returns once the server has closed the connection
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert refusals.value("time") == before + 1


def test_a_connection_that_sends_nothing_is_closed(port: int) -> None:
    with _connect(port) as sock:
        assert _answer(sock).startswith(b"HTTP/1.1 408 ")


def test_a_kept_alive_connection_is_served_again_then_closed_when_idle(port: int) -> None:
    with _connect(port) as sock:
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(sock).startswith(b"HTTP/1.1 200 ")
        assert sock.recv(1) == b""  # closed by the keep-alive timeout, not by the client


def test_connections_beyond_the_cap_are_answered_503(port: int) -> None:
    held = [_connect(port) for _ in range(LIMITS.max_connections)]
    try:
        with _connect(port) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _answer(sock).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()


def test_the_refusals_are_on_the_metrics(port: int) -> None:
    refusals.inc("size")
    with _connect(port) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _answer(sock)
    assert b'fhir_resist_request_heads_refused_total{reason="size"}' in answer


def test_several_workers_name_the_protocol_by_its_path() -> None:
    options = uvicorn_options(LIMITS, workers=2)
    assert options["http"] == "fhir_resist.cdshooks.server:LimitedHttpTools"
    assert options["limit_concurrency"] == LIMITS.max_connections
    assert with_limits(LIMITS).limits == LIMITS
    assert LimitedHttpTools.limits is None  # read from the environment in each worker


def test_refusals_are_counted_where_every_worker_renders_them(tmp_path: Path) -> None:
    this_worker = Metrics(SharedState(tmp_path))
    other_worker = Metrics(SharedState(tmp_path))
    refusals.attach(this_worker)
    try:
        refusals.inc("time")
    finally:
        refusals.detach(this_worker)
    assert other_worker.value("request_heads_refused", reason="time") == 1
    refusals.detach(other_worker)  # not the one attached: nothing changes
    assert not refusals.shared
