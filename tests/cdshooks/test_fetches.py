"""Hook calls that wait on a FHIR server: a share per caller (429 beyond it), and their fetching
stopped once nobody waits for the answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.fetches import CallFetches, Shares, StoppingSession
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.cdshooks.prefetch import default_client
from fhir_resist.cdshooks.service import Service
from fhir_resist.errors import Abandoned, HttpError
from fhir_resist.fhir.client import FhirClient, Retry
from tests.cdshooks.test_app import PV, hook_request
from tests.conftest import SCENARIOS, load_json
from tests.hapi import BASE, HapiMock

KRAS = SCENARIOS / "crc-kras-g12d-cetuximab.json"
DEAD = "http://ehr-never-answers.test/fhir"
WAIT = 60.0  # seconds a test waits for what must happen (never a measured figure)


class NeverAnswers(requests.Session):
    """A FHIR server that accepts each request and answers none until ``release`` (then the read
    times out, as a server that never answers does)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.sent = 0
        self._lock = threading.Lock()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        with self._lock:
            self.sent += 1
        self.gate.wait(WAIT)
        raise requests.ReadTimeout("Read timed out. (read timeout=4.0)")


def _until(condition: Any, what: str) -> None:
    until = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < until, what
        time.sleep(0.01)


def _fetching(server: str) -> dict[str, Any]:
    request = hook_request("patient-view", load_json(KRAS))
    del request["prefetch"]
    request["fhirServer"] = server
    return request


@pytest.fixture
def dead() -> Iterator[NeverAnswers]:
    session = NeverAnswers()
    yield session
    session.gate.set()


def _app(
    tmp_path: Path,
    catalogue: Catalogue,
    dead: NeverAnswers,
    *,
    deadline: float,
    attempts: int = 1,
    workers: int = 4,
) -> TestClient:
    def factory(base: str, token: str | None) -> FhirClient:
        if base == DEAD:
            return FhirClient(base, token=token, retry=Retry(attempts=attempts, backoff=0.001), session=dead)
        return default_client(base, token)

    settings = ServiceSettings(
        auth="off", feedback_path=tmp_path / "f.jsonl", workers=workers, deadline=deadline
    )
    limits = Limits(caller_fetches=2)
    return TestClient(create_app(settings, catalogue=catalogue, client_factory=factory, limits=limits))


def _service(client: TestClient) -> Service:
    service = client.app.state.service  # type: ignore[attr-defined]
    assert isinstance(service, Service)
    return service


def test_a_caller_whose_server_never_answers_cannot_starve_another(
    tmp_path: Path, catalogue: Catalogue, dead: NeverAnswers, hapi: HapiMock
) -> None:
    with _app(tmp_path, catalogue, dead, deadline=WAIT) as client, ThreadPoolExecutor(4) as callers:
        stuck: list[Future[Any]] = [
            callers.submit(client.post, f"/cds-services/{PV}", json=_fetching(DEAD)) for _ in range(4)
        ]
        _until(lambda: dead.sent == 2 and sum(f.done() for f in stuck) == 2, "two calls waiting, two refused")
        refused = [f.result() for f in stuck if f.done()]
        assert [r.status_code for r in refused] == [429, 429]
        assert refused[0].headers["Retry-After"] == str(int(WAIT))
        assert "calls waiting on a FHIR server" in refused[0].json()["issue"][0]["details"]["text"]

        answer = client.post(f"/cds-services/{PV}", json=_fetching(BASE))  # another caller
        assert answer.status_code == 200, answer.text
        assert answer.json()["cards"][0]["summary"].startswith("cetuximab unlikely to work")

        dead.gate.set()
        assert sorted(f.result().status_code for f in stuck) == [412, 412, 429, 429]
        _until(lambda: _service(client).fetches.held() == 0, "the shares given back")
        metrics = client.get("/metrics").text
        assert f'fhir_resist_hook_calls_total{{service="{PV}",status="429"}} 2' in metrics


def test_fetching_stops_once_the_deadline_has_passed(
    tmp_path: Path, catalogue: Catalogue, dead: NeverAnswers
) -> None:
    with _app(tmp_path, catalogue, dead, deadline=0.2, attempts=3, workers=1) as client:
        answer = client.post(f"/cds-services/{PV}", json=_fetching(DEAD))
        assert answer.status_code == 503
        dead.gate.set()  # the request in flight ends (read timeout); no retry, no further request
        _service(client).pool.submit(lambda: None).result(WAIT)  # the one thread: after the call's work
        assert _service(client).fetches.held() == 0
        assert dead.sent == 1


def test_a_stopped_session_sends_nothing() -> None:
    stop = threading.Event()
    stop.set()
    with StoppingSession(requests.Session(), stop) as session, pytest.raises(Abandoned):
        session.get("http://hapi.test/fhir/Patient/p")


def test_with_authentication_the_share_is_the_issuers() -> None:
    shares = Shares(1)
    stop = threading.Event()
    first = CallFetches(shares, "https://ehr.example", default_client, stop, 10)
    first.client("http://one.test/fhir", None)
    first.client("http://one.test/fhir", None)  # the same call: one share
    assert shares.held("https://ehr.example") == 1
    with pytest.raises(HttpError) as refused:
        CallFetches(shares, "https://ehr.example", default_client, stop, 10).client(
            "http://two.test/fhir", None
        )
    assert refused.value.status == 429
    CallFetches(shares, None, default_client, stop, 10).client("http://two.test/fhir", None)  # by origin
    first.release()
    first.release()
    assert shares.held() == 1
