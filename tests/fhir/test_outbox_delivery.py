"""Delivery through the outbox, against the HAPI mock: written ahead, never over a newer result,
version conflicts retried, local errors survived, one sender per item."""

from __future__ import annotations

import errno
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.fhir import outbox as outbox_module
from fhir_resist.fhir.client import FhirClient, Retry
from fhir_resist.fhir.delivery import Delivery, deliver, retry, scope_of
from fhir_resist.fhir.outbox import NOT_YET_SENT, Outbox, OutboxItem
from tests.conftest import SCENARIOS, load_json
from tests.hapi import BASE, HapiMock, operation_outcome

T0 = datetime(2026, 4, 1, 9, tzinfo=UTC)
KRAS = "crc-kras-g12d-cetuximab"
FHIR = "application/fhir+json"


@pytest.fixture
def client() -> FhirClient:
    return FhirClient(BASE, retry=Retry(attempts=2, backoff=0.0), sleep=lambda _: None)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


def _record(corrected: bool = False) -> dict[str, Any]:
    record = load_json(SCENARIOS / f"{KRAS}.json")
    if corrected:  # the lab corrects its report: the KRAS variant was entered in error
        for entry in record["entry"]:
            if entry["resource"]["id"] == "v-kras":
                entry["resource"]["status"] = "entered-in-error"
    return record  # type: ignore[no-any-return]


def _deliver(
    catalogue: Catalogue, client: FhirClient, outbox: Outbox, at: datetime, corrected: bool = False
) -> Delivery:
    assessment = evaluate([_record(corrected)], catalogue=catalogue, at=at)
    assert bool(assessment.issues) is not corrected
    return deliver(client, to_bundle(assessment), scope_of(assessment), outbox)


def _transactions(hapi: HapiMock) -> int:
    return sum(1 for method, url, _ in hapi.calls if method == "POST" and url.rstrip("/") == BASE)


def _clients(server: str) -> FhirClient:
    return FhirClient(server, retry=Retry(attempts=2, backoff=0.0), sleep=lambda _: None)


# ---- write-ahead ------------------------------------------------------------------------------


def test_the_result_is_in_the_outbox_before_it_is_sent_and_leaves_once_confirmed(
    catalogue: Catalogue,
    hapi: HapiMock,
    client: FhirClient,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting: list[list[OutboxItem]] = []
    send = client.transaction

    def spy(bundle: dict[str, Any]) -> dict[str, Any]:
        waiting.append(outbox.items()[0])
        return send(bundle)

    monkeypatch.setattr(client, "transaction", spy)
    delivery = _deliver(catalogue, client, outbox, T0)
    assert delivery.outcome == "delivered", delivery.error
    ((item,),) = waiting
    assert (item.state, item.error, item.attempts, item.evaluated) == (
        "pending",
        NOT_YET_SENT,
        0,
        "2026-04-01T09:00:00Z",
    )
    assert outbox.items() == ([], [])


def test_a_crash_while_sending_leaves_the_result_pending(
    catalogue: Catalogue,
    hapi: HapiMock,
    client: FhirClient,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def crash(bundle: dict[str, Any]) -> dict[str, Any]:
        raise UnicodeEncodeError("latin-1", "日本", 0, 1, "ordinal not in range")

    monkeypatch.setattr(client, "transaction", crash)
    with pytest.raises(UnicodeEncodeError):
        _deliver(catalogue, client, outbox, T0)
    (item,), _ = outbox.items()
    assert (item.state, item.error) == ("pending", NOT_YET_SENT)
    ((_, again),) = retry(_clients, outbox)
    assert again.outcome == "delivered"
    assert len(hapi.all("DetectedIssue")) == 1


# ---- superseding -------------------------------------------------------------------------------


def _stale_item_then_correction(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox, later: datetime
) -> str:
    """A delivered; A again kept (server down); corrected B delivered at ``later``: the issue's id."""
    assert _deliver(catalogue, client, outbox, T0).outcome == "delivered"
    (issue,) = hapi.all("DetectedIssue")
    hapi.fail(times=2, method="POST", status=503)
    assert _deliver(catalogue, client, outbox, T0 + timedelta(minutes=5)).outcome == "queued"
    corrected = _deliver(catalogue, client, outbox, later, corrected=True)
    assert corrected.outcome == "delivered", corrected.error
    assert corrected.withdrawn == (f"DetectedIssue/{issue['id']}",)
    return str(issue["id"])


def _current_guidance(hapi: HapiMock) -> dict[str, Any]:
    return max(
        hapi.all("GuidanceResponse"), key=lambda g: (g["occurrenceDateTime"], g["meta"]["lastUpdated"])
    )


@pytest.mark.parametrize("minutes", [10, 5], ids=["later", "same-time"])
def test_an_old_result_retried_after_a_newer_one_is_superseded_not_sent(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox, minutes: int
) -> None:
    issue = _stale_item_then_correction(catalogue, hapi, client, outbox, T0 + timedelta(minutes=minutes))
    guidance_before = hapi.all("GuidanceResponse")
    posts = _transactions(hapi)
    ((item, delivery),) = retry(_clients, outbox)
    assert delivery.outcome == "superseded"
    assert "superseded by evaluation" in (delivery.error or "") and "on the server" in (delivery.error or "")
    assert _transactions(hapi) == posts  # nothing sent
    assert [v["status"] for v in hapi.history("DetectedIssue", issue)] == ["final", "cancelled"]
    assert hapi.all("GuidanceResponse") == guidance_before
    current = _current_guidance(hapi)
    assert current["occurrenceDateTime"] > item.evaluated or minutes == 5
    assert current["identifier"][0]["value"] != item.key  # the corrected evaluation is the current one
    (kept,), _ = outbox.items()
    assert (kept.state, kept.key) == ("superseded", item.key)
    assert retry(_clients, outbox) == []  # never sent later either


def test_of_two_waiting_results_only_the_newer_is_sent(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    hapi.fail(times=4, method="POST", status=503)
    assert _deliver(catalogue, client, outbox, T0).outcome == "queued"
    assert _deliver(catalogue, client, outbox, T0 + timedelta(hours=1), corrected=True).outcome == "queued"
    posts = _transactions(hapi)
    outcomes = {item.evaluated: d.outcome for item, d in retry(_clients, outbox)}
    assert outcomes == {"2026-04-01T09:00:00Z": "superseded", "2026-04-01T10:00:00Z": "delivered"}
    assert _transactions(hapi) == posts + 1
    assert hapi.all("DetectedIssue") == []
    (kept,), _ = outbox.items()
    assert kept.state == "superseded" and "waiting in the outbox" in kept.error


def test_an_evaluation_older_than_the_servers_is_not_written(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    assert _deliver(catalogue, client, outbox, T0 + timedelta(hours=1), corrected=True).outcome == "delivered"
    older = _deliver(catalogue, client, outbox, T0)
    assert older.outcome == "superseded"
    assert hapi.all("DetectedIssue") == []
    assert len(hapi.all("GuidanceResponse")) == 1


def test_the_same_evaluation_sent_again_is_not_superseded_by_itself(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    for _ in range(2):
        assert _deliver(catalogue, client, outbox, T0).outcome == "delivered"
    assert _deliver(catalogue, client, outbox, T0 + timedelta(hours=1)).outcome == "delivered"
    (guidance,) = hapi.all("GuidanceResponse")
    assert guidance["occurrenceDateTime"] == "2026-04-01T10:00:00Z"


# ---- version conflicts -----------------------------------------------------------------------


def _precondition_failed(times: int, hapi: HapiMock) -> None:
    body = json.dumps(operation_outcome("HAPI-0550: version conflict (If-Match)"))
    hapi.fail(times=times, method="POST", status=412, body=body, content_type=FHIR)


def test_a_412_on_an_if_match_withdrawal_is_read_again_and_retried(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    assert _deliver(catalogue, client, outbox, T0).outcome == "delivered"
    (issue,) = hapi.all("DetectedIssue")
    _precondition_failed(1, hapi)
    corrected = _deliver(catalogue, client, outbox, T0 + timedelta(hours=1), corrected=True)
    assert corrected.outcome == "delivered", corrected.error
    assert [v["status"] for v in hapi.history("DetectedIssue", issue["id"])] == ["final", "cancelled"]
    assert outbox.items() == ([], [])


def test_a_412_that_persists_stays_pending_not_rejected(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    assert _deliver(catalogue, client, outbox, T0).outcome == "delivered"
    _precondition_failed(3, hapi)
    corrected = _deliver(catalogue, client, outbox, T0 + timedelta(hours=1), corrected=True)
    assert corrected.outcome == "queued"
    (item,), _ = outbox.items()
    assert item.state == "pending" and "412" in item.error
    ((_, again),) = retry(_clients, outbox)
    assert again.outcome == "delivered"
    assert [i["status"] for i in hapi.all("DetectedIssue")] == ["cancelled"]


def test_a_412_without_a_versioned_update_is_a_refusal(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    _precondition_failed(1, hapi)  # e.g. HAPI-0958: a conditional create matched several resources
    delivery = _deliver(catalogue, client, outbox, T0)
    assert delivery.outcome == "rejected"
    assert _transactions(hapi) == 1


# ---- local errors ------------------------------------------------------------------------------


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outbox_module, "atomic_write", full)


def test_a_full_disk_does_not_stop_the_send(
    catalogue: Catalogue,
    hapi: HapiMock,
    client: FhirClient,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _disk_full(monkeypatch)
    assert _deliver(catalogue, client, outbox, T0).outcome == "delivered"
    assert len(hapi.all("DetectedIssue")) == 1


def test_a_full_disk_and_a_failing_server_say_the_result_is_unsaved(
    catalogue: Catalogue,
    hapi: HapiMock,
    client: FhirClient,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _disk_full(monkeypatch)
    hapi.fail(times=2, method="POST", status=503)
    delivery = _deliver(catalogue, client, outbox, T0)
    assert delivery.outcome == "unsaved"
    assert "503" in (delivery.error or "") and "could not be written" in (delivery.error or "")
    assert delivery.outbox_path is None


# ---- one sender per item -------------------------------------------------------------------------


def test_two_concurrent_retries_never_send_the_same_item_twice(
    catalogue: Catalogue,
    hapi: HapiMock,
    client: FhirClient,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hapi.fail(times=2, method="POST", status=503)
    assert _deliver(catalogue, client, outbox, T0).outcome == "queued"
    sending, release = threading.Event(), threading.Event()
    send = FhirClient.transaction

    def slow(self: FhirClient, bundle: dict[str, Any]) -> dict[str, Any]:
        sending.set()
        release.wait(timeout=60)
        return send(self, bundle)

    monkeypatch.setattr(FhirClient, "transaction", slow)
    first: list[tuple[OutboxItem, Delivery]] = []
    second: list[tuple[OutboxItem, Delivery]] = []
    one = threading.Thread(target=lambda: first.extend(retry(_clients, outbox)))
    one.start()
    assert sending.wait(timeout=60)
    two = threading.Thread(target=lambda: second.extend(retry(_clients, outbox)))
    two.start()
    two.join(timeout=60)  # a second sender must not wait for the first (nor send after it)
    release.set()
    one.join()
    two.join()
    assert [d.outcome for _, d in first] == ["delivered"]
    assert [d.outcome for _, d in second] == ["busy"]
    assert "another process" in (second[0][1].error or "")
    assert _transactions(hapi) == 3  # two failed sends at first, then one


def test_an_item_locked_by_another_process_is_skipped(
    catalogue: Catalogue, hapi: HapiMock, client: FhirClient, outbox: Outbox
) -> None:
    hapi.fail(times=2, method="POST", status=503)
    assert _deliver(catalogue, client, outbox, T0).outcome == "queued"
    (item,), _ = outbox.items()
    with outbox.lock(item.lock_name) as held:  # what another process holds while it sends
        assert held
        ((_, busy),) = retry(_clients, outbox)
    assert busy.outcome == "busy"
    assert _transactions(hapi) == 2
    ((_, again),) = retry(_clients, outbox)
    assert again.outcome == "delivered"


def test_an_item_delivered_by_another_process_meanwhile_is_not_sent_again(
    catalogue: Catalogue,
    hapi: HapiMock,
    client: FhirClient,
    outbox: Outbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hapi.fail(times=2, method="POST", status=503)
    assert _deliver(catalogue, client, outbox, T0).outcome == "queued"
    listed = outbox.items

    def listed_then_gone() -> Any:
        found = listed()
        for item in found[0]:
            item.path.unlink()  # another sender delivered it after this one listed it
        return found

    monkeypatch.setattr(outbox, "items", listed_then_gone)
    assert retry(_clients, outbox) == []
    assert _transactions(hapi) == 2
