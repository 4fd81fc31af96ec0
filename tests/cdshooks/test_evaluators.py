"""Hook calls evaluated in evaluator processes: the same answers as in the service process."""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cdshooks.evaluators import Evaluators, usable_cores
from fhir_resist.errors import CatalogueError
from tests.cdshooks.test_app import KRAS, OS, PV, draft, hook_request, order_request
from tests.conftest import ROOT, load_json
from tests.hapi import BASE, HapiMock

PUBLIC = "https://cds.example.org/fhir-resist"


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> dict[str, Any]:
    """The same calls to a service evaluating in-process and to one with two evaluator processes."""
    tmp = tmp_path_factory.mktemp("evaluators")
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unreachable = {
        "hook": "patient-view",
        "hookInstance": "2",
        "fhirServer": f"http://127.0.0.1:{closed}/fhir",
        "context": {"patientId": "pat-1"},
    }
    calls: list[tuple[str, bytes]] = [
        (PV, json.dumps(hook_request("patient-view", load_json(KRAS))).encode()),
        (OS, json.dumps(order_request("order-select", draft("318341", "cetuximab"))).encode()),
        (OS, json.dumps(order_request("order-select", draft("253337", "bevacizumab"))).encode()),
        (PV, b"{not json"),
        (PV, b"[]"),
        (PV, json.dumps({"hook": "order-sign", "hookInstance": "1", "context": {"patientId": "p"}}).encode()),
        (PV, json.dumps(hook_request("patient-view", load_json(KRAS))).encode()),  # again: the cache
        (PV, json.dumps(unreachable).encode()),  # no prefetch: fetched, from a server that is not there
    ]
    out: dict[str, Any] = {}
    for processes in (0, 2):
        settings = ServiceSettings(
            auth="off",
            feedback_path=tmp / f"feedback-{processes}.jsonl",
            processes=processes,
            catalogue_path=ROOT / "catalogue",
            deadline=60,
            public_url=PUBLIC,
        )
        with TestClient(create_app(settings, catalogue=catalogue)) as client:
            evaluators = client.app.state.service.evaluators  # type: ignore[attr-defined]
            assert (evaluators is not None) == (processes > 0)
            assert evaluators is None or evaluators.wait(120)  # the calls go to the evaluators
            headers = {"Content-Type": "application/json"}
            replies = [client.post(f"/cds-services/{s}", content=body, headers=headers) for s, body in calls]
            out[f"p{processes}"] = [(r.status_code, r.json()) for r in replies]
            out[f"p{processes}-metrics"] = client.get("/metrics").text
    return out


def test_evaluator_processes_answer_exactly_as_the_service_process(answers: dict[str, Any]) -> None:
    assert answers["p2"] == answers["p0"]
    statuses = [status for status, _ in answers["p2"]]
    assert statuses == [200, 200, 200, 400, 400, 400, 200, 412]
    cetuximab = answers["p2"][1][1]["cards"]
    assert [c["indicator"] for c in cetuximab] == ["critical"]
    assert cetuximab[0]["summary"].startswith("cetuximab unlikely to work: KRAS p.G12D")
    assert answers["p2"][2][1] == {"cards": []}  # bevacizumab: nothing to say
    assert "not JSON" in answers["p2"][3][1]["issue"][0]["details"]["text"]
    assert answers["p2"][7][1]["resourceType"] == "OperationOutcome"  # the fetch failed: 412


def test_evaluator_processes_link_the_rule_page_under_the_public_url(answers: dict[str, Any]) -> None:
    for processes in ("p0", "p2"):
        (card,) = answers[processes][1][1]["cards"]
        assert card["source"]["url"] == f"{PUBLIC}/catalogue/rules/crc-antiegfr-kras-ext-ras.html"
        cached = answers[processes][6][1]["cards"][0]  # answered from the evaluator's cache
        assert cached["source"]["url"].startswith(f"{PUBLIC}/catalogue/rules/")


def test_metrics_count_calls_cards_and_cache_hits_from_the_evaluators(answers: dict[str, Any]) -> None:
    metrics = answers["p2-metrics"]
    assert f'fhir_resist_hook_calls_total{{service="{PV}",status="200"}} 2' in metrics
    assert f'fhir_resist_hook_calls_total{{service="{PV}",status="400"}} 3' in metrics
    assert f'fhir_resist_cards_total{{indicator="critical",service="{OS}"}} 1' in metrics
    # two evaluators, each with its own cache: the repeat is a hit only if it met the same one
    hits = [line for line in metrics.splitlines() if line.startswith("fhir_resist_hook_cache_hits_total")]
    assert hits in ([], [f'fhir_resist_hook_cache_hits_total{{service="{PV}"}} 1'])


def _another_version(tmp_path: Path, catalogue: Catalogue) -> Path:
    """A copy of the catalogue under another version."""
    other = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", other)
    meta = other / "catalogue.yaml"
    text = meta.read_text(encoding="utf-8")
    assert f'version: "{catalogue.version}"' in text
    meta.write_text(text.replace(f'version: "{catalogue.version}"', 'version: "1999.1.1"'), encoding="utf-8")
    return other


def test_evaluators_with_another_catalogue_stop_the_start(tmp_path: Path, catalogue: Catalogue) -> None:
    expected = r"loaded catalogue 1999\.1\.1, the service " + catalogue.version
    with pytest.raises(CatalogueError, match=expected):
        Evaluators(2, catalogue, _another_version(tmp_path, catalogue), 0)


def test_evaluators_without_a_catalogue_stop_the_start(tmp_path: Path, catalogue: Catalogue) -> None:
    with pytest.raises(CatalogueError, match="the evaluator processes could not load it"):
        Evaluators(2, catalogue, tmp_path / "nowhere", 0)


def test_calls_are_answered_in_the_service_process_until_the_evaluators_have_started(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The service answers at once: while its evaluators start, the service process answers hook
    calls itself (no error, nothing counted as a failure); once they have checked in, they do."""
    from fhir_resist.cdshooks import hooks

    gate = threading.Event()
    start = Evaluators._started

    def held(self: Evaluators) -> Any:
        assert gate.wait(120)
        return start(self)

    monkeypatch.setattr(Evaluators, "_started", held)
    here: list[str] = []
    call = hooks.call

    def counted(service: Any, *args: Any, **kwargs: Any) -> Any:
        here.append(service.id)  # evaluated in this process (the evaluators run in their own)
        return call(service, *args, **kwargs)

    monkeypatch.setattr(hooks, "call", counted)
    settings = _one_evaluator(tmp_path)
    request = hook_request("patient-view", load_json(KRAS))
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        evaluators: Evaluators = client.app.state.service.evaluators  # type: ignore[attr-defined]
        while_starting = client.post(f"/cds-services/{PV}", json=request)
        assert not evaluators.wait(0) and here == [PV]
        assert client.get("/healthz").json()["evaluators"] == "starting"
        gate.set()
        assert evaluators.wait(120)
        assert client.get("/healthz").json()["evaluators"] == "ready"
        ready = client.post(f"/cds-services/{PV}", json=request)
        metrics = client.get("/metrics").text
    assert while_starting.status_code == ready.status_code == 200
    assert ready.json() == while_starting.json()
    assert while_starting.json()["cards"][0]["summary"].startswith("cetuximab unlikely to work")
    assert here == [PV]  # the second call went to the evaluator
    assert "evaluator_failures" not in metrics
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_evaluators_with_another_catalogue_are_not_used_and_say_so(
    tmp_path: Path, catalogue: Catalogue, caplog: pytest.LogCaptureFixture
) -> None:
    """Evaluators started in the background that load another catalogue than the service's are
    never used: the error is logged, and the service process answers every call."""
    settings = replace(_one_evaluator(tmp_path), catalogue_path=_another_version(tmp_path, catalogue))
    request = hook_request("patient-view", load_json(KRAS))
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        evaluators: Evaluators = client.app.state.service.evaluators  # type: ignore[attr-defined]
        assert not evaluators.wait(120)
        answered = client.post(f"/cds-services/{PV}", json=request)
        assert client.get("/healthz").json()["evaluators"] == "not used"
    assert answered.status_code == 200
    assert answered.json()["cards"][0]["summary"].startswith("cetuximab unlikely to work")
    assert evaluators.failure is not None
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "the evaluator processes are not used" in error.getMessage()
    assert f"loaded catalogue 1999.1.1, the service {catalogue.version}" in error.getMessage()


def test_evaluators_stopped_while_starting_are_never_used(catalogue: Catalogue) -> None:
    evaluators = Evaluators(1, catalogue, ROOT / "catalogue", 0, wait=False)
    evaluators.close()  # returns once the evaluators started meanwhile are stopped
    assert not evaluators.wait(0)
    assert evaluators.failure is None and evaluators.state == "stopped"


def test_usable_cores_is_at_least_one() -> None:
    assert usable_cores() >= 1


def _one_evaluator(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(
        auth="off",
        feedback_path=tmp_path / "feedback.jsonl",
        processes=1,
        catalogue_path=ROOT / "catalogue",
        deadline=60,
    )


def test_calls_that_need_the_fhir_server_are_answered_by_the_service_process(
    tmp_path: Path, catalogue: Catalogue, hapi: HapiMock
) -> None:
    """A missing prefetch key is fetched in the service process's threads, not in an evaluator
    (waiting on a network is no work for a process sized to a core): the HAPI mock, which exists
    only in this process, is reached, and the complete prefetch call still goes to an evaluator."""
    settings = _one_evaluator(tmp_path)
    partial = hook_request("patient-view", load_json(KRAS))
    del partial["prefetch"]["conditions"]
    partial["fhirServer"] = BASE
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        assert client.app.state.service.evaluators.wait(120)  # type: ignore[attr-defined]
        fetched = client.post(f"/cds-services/{PV}", json=partial)
        complete = client.post(f"/cds-services/{PV}", json=hook_request("patient-view", load_json(KRAS)))
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["cards"][0]["summary"].startswith("cetuximab unlikely to work")
    ((method, url, _),) = hapi.calls
    assert method == "GET" and "/Condition?" in url
    assert complete.json() == fetched.json()


def test_a_dead_evaluator_costs_no_answer_and_is_replaced(tmp_path: Path, catalogue: Catalogue) -> None:
    """An evaluator killed (out of memory, by an operator) breaks the pool: the call is answered by
    the service process, a new pool is started and checked, and later calls go to it."""
    settings = _one_evaluator(tmp_path)
    request = hook_request("patient-view", load_json(KRAS))
    with TestClient(create_app(settings, catalogue=catalogue)) as client:
        evaluators: Evaluators = client.app.state.service.evaluators  # type: ignore[attr-defined]
        assert evaluators.wait(120)
        first = client.post(f"/cds-services/{PV}", json=request)
        pool = evaluators._pool
        assert pool is not None
        for process in list(pool._processes.values()):
            process.kill()
            process.join()
        after_death = client.post(f"/cds-services/{PV}", json=request)
        deadline = time.monotonic() + 60
        while evaluators.restarts == 0 and time.monotonic() < deadline:
            assert evaluators.state in ("ready", "restarting")
            time.sleep(0.05)
        restarted = client.post(f"/cds-services/{PV}", json=request)
        metrics = client.get("/metrics").text
    assert first.status_code == after_death.status_code == restarted.status_code == 200
    assert first.json() == after_death.json() == restarted.json()
    assert evaluators.restarts == 1
    assert evaluators._pool is not pool
    assert "fhir_resist_evaluator_failures_total{} 1" in metrics


def test_a_repeated_call_is_answered_without_parsing_its_body(
    monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue
) -> None:
    from fhir_resist.cdshooks import evaluators
    from fhir_resist.cdshooks.assessment_cache import AssessmentCache

    monkeypatch.setattr(evaluators, "_catalogue", catalogue)
    monkeypatch.setattr(evaluators, "_cache", AssessmentCache(4))
    request = hook_request("patient-view", load_json(KRAS))
    first = evaluators.evaluate(PV, json.dumps(request).encode())
    assert isinstance(first, evaluators.Evaluated) and not first.cached

    def unparsed(raw: bytes) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(evaluators, "parse_body", unparsed)
    again = evaluators.evaluate(PV, json.dumps(request | {"hookInstance": "again"}).encode())
    assert isinstance(again, evaluators.Evaluated) and again.cached
    assert [c["summary"] for c in again.cards] == [c["summary"] for c in first.cards]
    # a body that would not pass is parsed (and refused), never answered from the cache
    with pytest.raises(AssertionError, match="parsed"):
        evaluators.evaluate(PV, json.dumps(request | {"hookInstance": ""}).encode())
