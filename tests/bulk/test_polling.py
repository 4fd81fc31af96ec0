"""Polling the status URL: Retry-After in both forms and within bounds, X-Progress passed on, 5xx
retried a bounded number of times, 4xx and a failed job reported, the total time-out kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from fhir_resist.bulk.kickoff import export_request, kick_off
from fhir_resist.bulk.polling import PollPolicy, poll, wait_for
from fhir_resist.errors import ServerError
from fhir_resist.fhir.client import FhirClient
from tests.bulk.conftest import Clock
from tests.bulk.hapi_export import HapiBulk
from tests.hapi import BASE

POLICY = PollPolicy(default_wait=5.0, min_wait=1.0, max_wait=120.0, timeout=3600.0)


def _poll(client: FhirClient, clock: Clock, policy: PollPolicy = POLICY) -> tuple[list[str], object]:
    notes: list[str] = []
    status = kick_off(client, export_request("system"))
    manifest, _ = poll(client, status, policy=policy, sleep=clock.sleep, clock=clock, progress=notes.append)
    return notes, manifest


def test_hapis_retry_after_of_120_s_is_honoured_and_its_progress_shown(
    hapi: HapiBulk, client: FhirClient, clock: Clock
) -> None:
    hapi.polls = 2
    notes, manifest = _poll(client, clock)
    assert clock.sleeps == [120.0, 120.0]
    assert len(notes) == 2
    assert notes[0].startswith("export Build in progress - Status set to QUEUED at ")
    assert notes[1].startswith("export Build in progress - Status set to IN_PROGRESS at ")
    assert notes[0].endswith("next check in 120 s")
    assert [e.type for e in manifest.output][:2] == ["Patient", "Observation"]  # type: ignore[attr-defined]
    polls = [h for m, u, h in hapi.seen if "$export-poll-status" in u]
    assert all(h["Authorization"] == "Bearer bulk-export-token" for h in polls)


def test_retry_after_as_an_http_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 <= wait_for(format_datetime(later, usegmt=True), POLICY) <= 30


@pytest.mark.parametrize(
    ("header", "wait"),
    [(None, 5.0), ("garbage", 5.0), ("0", 1.0), ("3600", 120.0), ("7", 7.0)],
)
def test_retry_after_default_and_bounds(header: str | None, wait: float) -> None:
    assert wait_for(header, POLICY) == wait


def test_progress_text_loses_control_characters(hapi: HapiBulk, client: FhirClient, clock: Clock) -> None:
    status = kick_off(client, export_request("system"))
    hapi.fail(
        status=202, body="", headers={"X-Progress": "50%\x1b[2J\x1b]0;owned\x07 done", "Retry-After": "1"}
    )
    notes: list[str] = []
    poll(client, status, policy=POLICY, sleep=clock.sleep, clock=clock, progress=notes.append)
    assert notes[0] == "export 50%[2J]0;owned done; next check in 1 s"


def test_no_retry_after_waits_the_default(hapi: HapiBulk, client: FhirClient, clock: Clock) -> None:
    hapi.retry_after = None
    _poll(client, clock)
    assert clock.sleeps == [5.0]


def test_a_5xx_while_polling_is_retried_with_backoff(
    hapi: HapiBulk, client: FhirClient, clock: Clock
) -> None:
    status = kick_off(client, export_request("system"))
    hapi.fail(times=2, status=503)
    manifest, _ = poll(client, status, policy=POLICY, sleep=clock.sleep, clock=clock, progress=lambda _: None)
    assert manifest.output
    assert len(clock.sleeps) == 3  # two back-offs of the client, then HAPI's 120 s
    assert all(s < 10 for s in clock.sleeps[:2]) and clock.sleeps[2] == 120.0


def test_a_5xx_that_persists_ends_after_the_bounded_attempts(
    hapi: HapiBulk, client: FhirClient, clock: Clock
) -> None:
    status = kick_off(client, export_request("system"))
    hapi.fail(times=client.retry.attempts, status=502, body="<html>Bad Gateway</html>")
    with pytest.raises(ServerError) as caught:
        poll(client, status, policy=POLICY, sleep=clock.sleep, clock=clock, progress=lambda _: None)
    assert caught.value.attempts == client.retry.attempts
    assert "bulk export status" in str(caught.value)
    assert "502" in str(caught.value)


def test_a_failed_job_reports_hapis_outcome(hapi: HapiBulk, client: FhirClient, clock: Clock) -> None:
    hapi.fail_job = "Job failed: too many resources"
    with pytest.raises(ServerError, match=r"500 .*Job failed: too many resources"):
        _poll(client, clock)


def test_a_4xx_is_an_error_at_once(hapi: HapiBulk, client: FhirClient, clock: Clock) -> None:
    with pytest.raises(ServerError) as caught:
        poll(
            client,
            f"{BASE}/$export-poll-status?_jobId=unknown",
            policy=POLICY,
            sleep=clock.sleep,
            clock=clock,
            progress=lambda _: None,
        )
    assert caught.value.status == 404
    assert "HAPI-2040: Unknown instance ID: unknown" in str(caught.value)
    assert clock.sleeps == []


def test_the_total_timeout_is_kept(hapi: HapiBulk, client: FhirClient, clock: Clock) -> None:
    hapi.polls = 100
    with pytest.raises(ServerError, match=r"not complete after 600 s \(Build in progress"):
        _poll(client, clock, PollPolicy(timeout=600.0))
    assert sum(clock.sleeps) <= 600.0
    assert len(clock.sleeps) == 5


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (204, "", "answered 204; expected 202 or 200"),
        (200, "<html>login</html>", "export manifest: the status answer is not JSON"),
    ],
)
def test_an_unexpected_status_or_a_manifest_that_is_not_json(
    hapi: HapiBulk, client: FhirClient, clock: Clock, status: int, body: str, message: str
) -> None:
    status_url = kick_off(client, export_request("system"))
    hapi.fail(status=status, body=body, content_type="text/html")
    with pytest.raises(ServerError, match=message):
        poll(client, status_url, policy=POLICY, sleep=clock.sleep, clock=clock, progress=lambda _: None)


def test_a_status_url_on_another_origin_is_not_polled_with_the_token(
    client: FhirClient, clock: Clock
) -> None:
    with pytest.raises(ServerError, match="not followed"):
        poll(
            client,
            "https://elsewhere.test/status/1",
            policy=POLICY,
            sleep=clock.sleep,
            clock=clock,
            progress=lambda _: None,
        )
