"""Write-back through the HAPI mock: round trips, idempotency, races, withdrawals, faults, outbox."""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.fhir import delivery
from fhir_resist.fhir.client import FhirClient, Retry
from fhir_resist.fhir.delivery import Delivery, deliver, retry, scope_of
from fhir_resist.fhir.outbox import Outbox, Scope
from tests.conftest import SCENARIOS, load_json
from tests.hapi import BASE, HapiMock, operation_outcome

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
KRAS = "crc-kras-g12d-cetuximab"
ONE_EACH = {"Device": 1, "DetectedIssue": 1, "RequestGroup": 1, "GuidanceResponse": 1, "Provenance": 1}
SERVER_META = ("versionId", "lastUpdated", "source")
FHIR = "application/fhir+json"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> FhirClient:
    return FhirClient(BASE, retry=Retry(attempts=3, backoff=0.01), sleep=sleeps)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


def _assessment(catalogue: Catalogue, resources: list[dict[str, Any]] | None = None) -> Any:
    return evaluate(resources or [load_json(SCENARIOS / f"{KRAS}.json")], catalogue=catalogue, at=AT)


def _deliver(client: FhirClient, outbox: Outbox, assessment: Any, strategy: str = "put") -> Delivery:
    return deliver(client, to_bundle(assessment, strategy=strategy), scope_of(assessment), outbox)  # type: ignore[arg-type]


def _ours(hapi: HapiMock) -> dict[str, int]:
    kinds = ("Device", "DetectedIssue", "RequestGroup", "GuidanceResponse", "Provenance")
    return {kind: len(hapi.all(kind)) for kind in kinds}


def _strip(resource: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in SERVER_META}
    return out | ({"meta": meta} if meta else {})


def _rewrite(node: Any, ids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: (ids.get(v, v) if k == "reference" else _rewrite(v, ids)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, ids) for v in node]
    return node


@pytest.mark.parametrize("strategy", ["put", "conditional"])
def test_round_trip_reads_back_what_was_built(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox, strategy: str
) -> None:
    assessment = _assessment(catalogue)
    bundle = to_bundle(assessment, strategy=strategy)  # type: ignore[arg-type]
    delivery = deliver(client, bundle, scope_of(assessment), outbox)
    assert delivery.outcome == "delivered", delivery.error
    assert [w.status for w in delivery.written] == ["201 Created"] * len(bundle["entry"])
    # Where the server put each entry, and our urn:uuid references rewritten to those ids.
    ids = {
        e["fullUrl"]: "/".join(w.location.split("/")[:2])  # type: ignore[union-attr]
        for e, w in zip(bundle["entry"], delivery.written, strict=True)
    }
    for entry, written in zip(bundle["entry"], delivery.written, strict=True):
        rtype, rid = ids[entry["fullUrl"]].split("/")
        stored = client.read(rtype, rid)
        assert stored["meta"]["versionId"] == "1"
        assert _strip(stored) == _strip(_rewrite(entry["resource"], ids))
        assert written.resource_type == rtype
    (issue,) = hapi.all("DetectedIssue")
    assert [r["reference"] for r in issue["implicated"]] == [
        "MedicationRequest/mr-cetux",
        "Observation/v-kras",
    ]
    assert not list(outbox.directory.glob("*.json")) if outbox.directory.exists() else True


@pytest.mark.parametrize("strategy", ["put", "conditional"])
def test_rerun_creates_nothing_new(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox, strategy: str
) -> None:
    first = _deliver(client, outbox, _assessment(catalogue), strategy)
    before = (hapi.count(), _ours(hapi))
    second = _deliver(client, outbox, _assessment(catalogue), strategy)
    assert first.outcome == second.outcome == "delivered"
    assert (hapi.count(), _ours(hapi)) == before
    assert _ours(hapi) == ONE_EACH
    assert all(w.status == "200 OK" for w in second.written)
    (issue,) = hapi.all("DetectedIssue")
    assert len(hapi.history("DetectedIssue", issue["id"])) == 1  # no new version either


def test_put_strategy_survives_concurrent_evaluations(
    catalogue: Catalogue, rsps: responses.RequestsMock
) -> None:
    hapi = HapiMock(rsps, race_gap=0.05)
    hapi.seed(load_json(SCENARIOS / f"{KRAS}.json"))
    bundle = to_bundle(_assessment(catalogue))
    clients = [FhirClient(BASE) for _ in range(4)]
    threads = [threading.Thread(target=c.transaction, args=(copy.deepcopy(bundle),)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _ours(hapi) == ONE_EACH


def test_the_mock_reproduces_hapis_conditional_create_race(
    catalogue: Catalogue, rsps: responses.RequestsMock
) -> None:
    """Unserialised conditional creates duplicate (HAPI #3141/#4597): why delivery takes a lock."""
    hapi = HapiMock(rsps, race_gap=0.05)
    hapi.seed(load_json(SCENARIOS / f"{KRAS}.json"))
    bundle = to_bundle(_assessment(catalogue), strategy="conditional")
    threads = [
        threading.Thread(target=FhirClient(BASE).transaction, args=(copy.deepcopy(bundle),)) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _ours(hapi)["DetectedIssue"] == 2


def test_delivery_serialises_conditional_creates_per_patient(
    catalogue: Catalogue, rsps: responses.RequestsMock, outbox: Outbox
) -> None:
    hapi = HapiMock(rsps, race_gap=0.05)
    hapi.seed(load_json(SCENARIOS / f"{KRAS}.json"))
    assessment = _assessment(catalogue)
    results: list[Delivery] = []

    def run() -> None:
        results.append(_deliver(FhirClient(BASE), outbox, assessment, "conditional"))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.outcome for r in results] == ["delivered"] * 3
    assert _ours(hapi) == ONE_EACH


def test_an_issue_no_longer_supported_is_withdrawn(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    _deliver(client, outbox, _assessment(catalogue))
    (issue,) = hapi.all("DetectedIssue")
    # The lab corrects its report: the KRAS variant was entered in error.
    corrected = load_json(SCENARIOS / f"{KRAS}.json")
    for entry in corrected["entry"]:
        if entry["resource"]["id"] == "v-kras":
            entry["resource"]["status"] = "entered-in-error"
    later = _assessment(catalogue, [corrected])
    assert not later.issues
    delivery = _deliver(client, outbox, later)
    assert delivery.outcome == "delivered", delivery.error
    assert delivery.withdrawn == (f"DetectedIssue/{issue['id']}",)
    history = hapi.history("DetectedIssue", issue["id"])
    assert [v["status"] for v in history] == ["final", "cancelled"]
    assert "no longer supports" in history[-1]["detail"]
    sent = hapi.calls[-1][2]
    assert sent is not None
    withdrawal = sent["entry"][-1]
    assert withdrawal["request"] == {
        "method": "PUT",
        "url": f"DetectedIssue/{issue['id']}",
        "ifMatch": 'W/"1"',
    }
    # Running the later evaluation again changes nothing more.
    again = _deliver(client, outbox, later)
    assert again.withdrawn == ()
    assert len(hapi.history("DetectedIssue", issue["id"])) == 2


def test_an_issue_about_a_therapy_not_assessed_is_left_alone(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    _deliver(client, outbox, _assessment(catalogue))
    without_drug = load_json(SCENARIOS / f"{KRAS}.json")
    without_drug["entry"] = [
        e for e in without_drug["entry"] if e["resource"]["resourceType"] != "MedicationRequest"
    ]
    delivery = _deliver(client, outbox, _assessment(catalogue, [without_drug]))
    assert delivery.outcome == "delivered"
    assert delivery.withdrawn == ()
    assert [i["status"] for i in hapi.all("DetectedIssue")] == ["final"]


@pytest.mark.parametrize(
    ("fault", "expected_wait"),
    [
        ({"status": 503, "headers": {"Retry-After": "7"}}, 7.0),
        (
            {
                "status": 429,
                "body": "Too Many Requests",
                "content_type": "text/plain",
                "headers": {"Retry-After": "2"},
            },
            2.0,
        ),
        ({"status": 502, "body": "<html>Bad Gateway</html>"}, None),
        ({"status": 504, "body": ""}, None),
        ({"exception": requests.ConnectionError("Connection reset by peer")}, None),
        ({"exception": requests.ReadTimeout("read timed out")}, None),
    ],
)
def test_transient_faults_are_retried_then_delivered(
    catalogue: Catalogue,
    hapi: HapiMock,
    client: FhirClient,
    outbox: Outbox,
    sleeps: Sleeps,
    fault: dict[str, Any],
    expected_wait: float | None,
) -> None:
    hapi.fail(times=2, method="POST", **fault)
    delivery = _deliver(client, outbox, _assessment(catalogue))
    assert delivery.outcome == "delivered", delivery.error
    assert len(sleeps) == 2
    if expected_wait is not None:
        assert sleeps == [expected_wait, expected_wait]
    else:
        assert all(0 < s <= 8 for s in sleeps)
    assert _ours(hapi)["DetectedIssue"] == 1


def test_server_down_goes_to_the_outbox_and_retry_delivers_it(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    hapi.fail(times=3, method="POST", exception=requests.ConnectionError("connection refused"))
    delivery = _deliver(client, outbox, _assessment(catalogue))
    assert delivery.outcome == "queued"
    assert delivery.outbox_path is not None and delivery.outbox_path.exists()
    assert "could not be reached" in (delivery.error or "")
    (item,), problems = outbox.items()
    assert not problems
    assert (item.state, item.attempts, item.scope.patient) == ("pending", 3, "Patient/pat-1")
    assert _ours(hapi)["DetectedIssue"] == 0
    ((_, again),) = retry(lambda server: FhirClient(server), outbox)
    assert again.outcome == "delivered"
    assert outbox.items() == ([], [])
    assert _ours(hapi)["DetectedIssue"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        {
            "status": 500,
            "body": json.dumps(operation_outcome("HAPI-0389: Failed to call access method")),
            "content_type": FHIR,
        },
        {"status": 200, "body": '{"resourceType": "Bundle", "type": "transac', "content_type": FHIR},
    ],
    ids=["hapi-500", "broken-json"],
)
def test_persistent_failure_is_kept_not_lost(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox, fault: dict[str, Any]
) -> None:
    hapi.fail(times=3, method="POST", **fault)
    delivery = _deliver(client, outbox, _assessment(catalogue))
    assert delivery.outcome == "queued"
    (item,), _ = outbox.items()
    assert item.bundle == to_bundle(_assessment(catalogue))
    hapi.faults.clear()
    ((_, again),) = retry(lambda server: FhirClient(server), outbox)
    assert again.outcome == "delivered"


def test_a_rejection_is_kept_with_the_servers_reason_and_not_retried_blindly(
    catalogue: Catalogue, rsps: responses.RequestsMock, client: FhirClient, outbox: Outbox
) -> None:
    hapi = HapiMock(rsps)  # the patient's record is not on this server
    delivery = _deliver(client, outbox, _assessment(catalogue))
    assert delivery.outcome == "rejected"
    assert "HAPI-1094" in (delivery.error or "")
    (item,), _ = outbox.items()
    assert item.state == "rejected"
    assert item.outcome is not None and item.outcome["issue"][0]["diagnostics"].startswith("HAPI-1094")
    posts = sum(1 for method, url, _ in hapi.calls if method == "POST")
    assert posts == 1  # a 4xx is not retried
    assert retry(lambda server: FhirClient(server), outbox) == []
    assert len(outbox.items()[0]) == 1
    # Fixed on the server's side: the record arrives; an explicit retry of rejected items delivers.
    hapi.seed(load_json(SCENARIOS / f"{KRAS}.json"))
    ((_, again),) = retry(lambda server: FhirClient(server), outbox, include_rejected=True)
    assert again.outcome == "delivered"
    assert outbox.items() == ([], [])


def test_requeueing_the_same_result_keeps_one_item(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    for _ in range(2):
        hapi.fail(times=3, method="POST", status=503)
        assert _deliver(client, outbox, _assessment(catalogue)).outcome == "queued"
    (item,), _ = outbox.items()
    assert item.attempts == 6


def test_a_validating_server_that_does_not_know_our_profiles_refuses_with_422(
    catalogue: Catalogue, rsps: responses.RequestsMock, client: FhirClient, outbox: Outbox
) -> None:
    from fhir_resist import terminology

    hapi = HapiMock(rsps, validating=frozenset())
    hapi.seed(load_json(SCENARIOS / f"{KRAS}.json"))
    delivery = _deliver(client, outbox, _assessment(catalogue))
    assert delivery.outcome == "rejected"
    assert "422" in (delivery.error or "") and "has not been checked because it is unknown" in (
        delivery.error or ""
    )
    (item,), _ = outbox.items()
    assert item.outcome is not None and item.outcome["issue"][0]["location"][1] == "Line 1, Col 2"
    # once our profiles are loaded on the server, the kept result goes through
    hapi.validating = frozenset(
        {terminology.SD_DETECTED_ISSUE, terminology.SD_GUIDANCE, terminology.SD_REQUEST_GROUP}
    )
    ((_, again),) = retry(lambda server: FhirClient(server), outbox, include_rejected=True)
    assert again.outcome == "delivered"


def test_the_lock_table_keeps_no_entry_for_patients_already_delivered(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    assessment = _assessment(catalogue)
    bundle = to_bundle(assessment)
    for n in range(50):
        scope = Scope(f"Patient/p-{n}", assessment.therapies)
        assert deliver(client, bundle, scope, outbox).outcome == "delivered"
        assert len(delivery._locks) == 0
    with pytest.raises(RuntimeError), delivery._locks.hold(BASE, "Patient/failing"):
        raise RuntimeError("a delivery that fails still leaves the table")
    assert len(delivery._locks) == 0


def test_a_second_delivery_for_the_patient_waits_for_the_first() -> None:
    locks = delivery._PatientLocks()
    order: list[str] = []

    def second() -> None:
        with locks.hold(BASE, "Patient/p"):
            order.append("second")

    with locks.hold(BASE, "Patient/p"):
        waiting = threading.Thread(target=second)
        waiting.start()
        for _ in range(10_000):  # until the second delivery has joined the patient's entry
            if locks._entries[(BASE, "Patient/p")].users == 2:
                break
            time.sleep(0.001)
        assert locks._entries[(BASE, "Patient/p")].users == 2
        with locks.hold(BASE, "Patient/other"):  # another patient is not held up
            order.append("other")
        order.append("first")
    waiting.join()
    assert order == ["other", "first", "second"]
    assert len(locks) == 0
