"""The service on a loopback port under concurrent calls while the FHIR server misbehaves.

uvicorn serves the app in a thread of this process; the FHIR server is the HAPI mock in chaos
mode (a share of requests answered by a failing gateway: 502/503/504/429, timeouts, resets).
Clients use ``http.client``, which the mock does not intercept. Checked: every call gets an
answer from the documented set, and every report that was evaluated ends delivered on the
server or kept in the outbox — none lost.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import responses
import uvicorn

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.limits import Limits
from fhir_resist.config import server_settings
from fhir_resist.fhir.client import FhirClient, Retry
from fhir_resist.fhir.outbox import Outbox
from tests.cdshooks.test_app import hook_request
from tests.conftest import ROOT, SCENARIOS, load_json, renamed
from tests.hapi import BASE, HapiMock

# Small by default; FHIR_RESIST_LOAD=200 runs 200 reports and 200 hook calls (the figures in
# the issue notes), printing the counts with pytest -s.
PATIENTS = HOOK_CALLS = int(os.environ.get("FHIR_RESIST_LOAD", "24"))


class Running:
    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.01)
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def post(port: int, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


@pytest.fixture
def chaos() -> Iterator[HapiMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")
        mock = HapiMock(rsps, chaos=0.3, seed=7)
        base = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
        for n in range(PATIENTS):
            mock.seed(renamed(base, f"p{n}"))
        yield mock


@pytest.mark.parametrize("processes", [0, 2], ids=["in-process", "evaluator-processes"])
def test_no_result_is_lost_under_faults_and_load(
    tmp_path: Path, catalogue: Catalogue, chaos: HapiMock, processes: int
) -> None:
    """With evaluator processes (as ``serve`` runs), calls with their whole prefetch are evaluated
    there while the calls that fetch wait on the failing server in the service process."""
    outbox = Outbox(tmp_path / "outbox")
    settings = ServiceSettings(
        auth="off",
        feedback_path=tmp_path / "feedback.jsonl",
        server=server_settings({}, base=BASE, outbox=str(outbox.directory)),
        deadline=30,
        processes=processes,
        catalogue_path=ROOT / "catalogue",
    )
    app = create_app(
        settings,
        catalogue=catalogue,
        client_factory=lambda base, token: FhirClient(
            base, token=token, retry=Retry(attempts=2, backoff=0.001)
        ),
        report_client=lambda: FhirClient(BASE, retry=Retry(attempts=3, backoff=0.001)),
        limits=Limits(caller_fetches=8, reports_at_once=8),  # as many as the clients: no 429 here
    )
    base = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    reports = [renamed(base, f"p{n}") for n in range(PATIENTS)]
    hook = {
        "hook": "patient-view",
        "hookInstance": "load",
        "fhirServer": BASE,
        "context": {"userId": "Practitioner/x", "patientId": "pat-1-p0"},
    }
    prefetched = hook_request("patient-view", base)
    with Running(app) as port, ThreadPoolExecutor(max_workers=8) as pool:
        report_calls = [pool.submit(post, port, "/reports", r) for r in reports]
        hook_calls = [
            pool.submit(post, port, "/cds-services/fhir-resist-patient-view", hook) for _ in range(HOOK_CALLS)
        ]
        prefetched_calls = [
            pool.submit(post, port, "/cds-services/fhir-resist-patient-view", prefetched)
            for _ in range(HOOK_CALLS)
        ]
        report_answers = [f.result() for f in report_calls]
        hook_answers = [f.result() for f in hook_calls]
        prefetched_answers = [f.result() for f in prefetched_calls]

    assert chaos.chaos_count > 0  # the faults really happened
    # prefetch needs no server: every such call is answered, with the card, whatever the server does
    assert [status for status, _ in prefetched_answers] == [200] * HOOK_CALLS
    summaries = [body["cards"][0]["summary"] for _, body in prefetched_answers]
    assert all(summary.startswith("cetuximab unlikely to work") for summary in summaries)
    hook_statuses = Counter(status for status, _ in hook_answers)
    assert set(hook_statuses) <= {200, 412}, hook_statuses
    assert hook_statuses[200] > 0
    for status, body in hook_answers:
        if status == 200:
            assert body["cards"][0]["summary"].startswith("cetuximab unlikely to work")

    statuses = Counter(status for status, _ in report_answers)
    assert set(statuses) <= {200, 202, 502}, statuses
    evaluated = {
        result["patient"]: result["delivery"]["outcome"]
        for status, body in report_answers
        if status in (200, 202)
        for result in body["results"]
    }
    not_read = [body for status, body in report_answers if status == 502]
    assert all("could not be read" in json.dumps(b) for b in not_read)  # never evaluated: the poster retries
    assert len(evaluated) + len(not_read) == PATIENTS
    on_server = {g["subject"]["reference"] for g in chaos.all("GuidanceResponse")}
    kept = {item.scope.patient for item in outbox.items()[0]}
    for patient, outcome in evaluated.items():
        assert outcome in ("delivered", "queued")
        assert patient in (on_server if outcome == "delivered" else kept)
    assert set(evaluated) <= on_server | kept  # every evaluated result: delivered or kept, none lost
    assert len(chaos.all("DetectedIssue")) == len(on_server)  # and nothing delivered twice
    outcomes = Counter(evaluated.values())
    print(
        f"\nload: {PATIENTS} reports -> {dict(statuses)} (delivered {outcomes['delivered']}, "
        f"kept {outcomes['queued']}, not readable {len(not_read)}, lost "
        f"{len(set(evaluated) - on_server - kept)}); {HOOK_CALLS} hooks that fetch -> {dict(hook_statuses)}, "
        f"{HOOK_CALLS} with their prefetch -> 200 x {len(prefetched_answers)} (processes={processes}); "
        f"{chaos.chaos_count} injected faults in {len(chaos.calls)} FHIR requests"
    )
