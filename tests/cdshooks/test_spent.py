"""The last call's parsed request: freed by the next call before it parses, or by the freeing
thread once the evaluator is idle; never by both, never kept past either."""

from __future__ import annotations

import gc
import time
import weakref

from fhir_resist.cdshooks.spent import Spent


class _Request(dict[str, object]):
    """A parsed request stand-in that a weak reference can watch."""


def _freed(ref: weakref.ref[_Request], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if ref() is None:
            return True
        time.sleep(0.005)
    return False


def test_the_next_call_takes_the_request_before_the_thread_does() -> None:
    spent = Spent(idle=60.0)  # the thread would wait a minute
    spent.start()
    request = _Request(entry=[{"resource": {}}])
    spent.park(request)
    assert spent.take() is request
    assert spent.take() is None  # taken once: whoever holds it last frees it


def test_an_idle_evaluator_frees_the_last_request_on_its_thread() -> None:
    gc.collect()
    spent = Spent(idle=0.001)
    spent.start()
    request = _Request(entry=[{"resource": {}}])
    watched = weakref.ref(request)
    spent.park(request)
    del request
    assert _freed(watched)
    assert spent.take() is None


def test_a_request_parked_after_another_was_taken_is_freed_too() -> None:
    spent = Spent(idle=0.001)
    spent.start()
    first, second = _Request(n=1), _Request(n=2)
    watched = weakref.ref(second)
    spent.park(first)
    assert spent.take() is first
    spent.park(second)
    del second
    assert _freed(watched)
