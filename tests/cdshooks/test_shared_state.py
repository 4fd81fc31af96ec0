"""The state the service's processes share: a token replayed to another process is refused, and
every process's counters are rendered together."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import responses

from fhir_resist.cdshooks.auth import Trust, TrustedClient, Verifier
from fhir_resist.cdshooks.metrics import Metrics
from fhir_resist.cdshooks.shared_state import FILE_NAME, PRUNE_EVERY, SharedState
from fhir_resist.errors import Unauthorized
from tests.cdshooks.test_auth import ISSUER, JKU, SERVICE, VECTOR, mint


def _worker(directory: Path) -> Verifier:
    """The verifier of one HTTP worker process, with its own connection to the shared state."""
    return Verifier(Trust.of(TrustedClient(ISSUER, jku=frozenset({JKU}))), seen=SharedState(directory))


def test_a_token_replayed_to_another_worker_is_refused(tmp_path: Path) -> None:
    first, second = _worker(tmp_path / "state"), _worker(tmp_path / "state")
    token = f"Bearer {mint()}"
    with responses.RequestsMock() as rsps:
        rsps.get(JKU, json=VECTOR["jwks_public"])
        rsps.get(JKU, json=VECTOR["jwks_public"])
        assert asyncio.run(first.verify(token, SERVICE)).issuer == ISSUER
        with pytest.raises(Unauthorized, match="replayed"):
            asyncio.run(second.verify(token, SERVICE))
        assert asyncio.run(second.verify(f"Bearer {mint()}", SERVICE)).issuer == ISSUER


def test_metrics_of_every_worker_are_rendered_together(tmp_path: Path) -> None:
    one, two = Metrics(SharedState(tmp_path)), Metrics(SharedState(tmp_path))
    one.inc("hook_calls", service="pv", status="200")
    two.inc("hook_calls", status="200", service="pv")
    two.inc("unauthorised")
    expected = (
        'fhir_resist_hook_calls_total{service="pv",status="200"} 2\nfhir_resist_unauthorised_total{} 1\n'
    )
    assert one.render() == two.render() == expected
    assert one.value("hook_calls", service="pv", status="200") == 2


def test_a_calls_counters_are_stored_together_and_each_counted(tmp_path: Path) -> None:
    metrics = Metrics(SharedState(tmp_path))
    card = ("cards", {"service": "pv", "indicator": "warning"})
    metrics.inc_all([("hook_calls", {"service": "pv", "status": "200"}), card, card])
    assert metrics.value("cards", service="pv", indicator="warning") == 2
    assert metrics.value("hook_calls", service="pv", status="200") == 1


def test_another_process_shares_the_same_state(tmp_path: Path) -> None:
    """A separate Python process (as ``serve --workers``) records a token id and counts a call."""
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from fhir_resist.cdshooks.metrics import Metrics
        from fhir_resist.cdshooks.shared_state import SharedState
        state = SharedState(Path({str(tmp_path)!r}))
        assert state.first_use("iss", "jti-1", {time.time() + 60})
        Metrics(state).inc("hook_calls", service="pv", status="200")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    here = SharedState(tmp_path)
    assert not here.first_use("iss", "jti-1", time.time() + 60)
    assert here.first_use("other-iss", "jti-1", time.time() + 60)  # token ids are per issuer
    assert Metrics(here).render() == 'fhir_resist_hook_calls_total{service="pv",status="200"} 1\n'


def test_expired_token_ids_are_pruned(tmp_path: Path) -> None:
    state = SharedState(tmp_path)
    now = time.time()
    assert state.first_use("iss", "old", now + 10, now=now)
    assert not state.first_use("iss", "old", now + 10, now=now + 5)
    later = now + 11 + PRUNE_EVERY
    assert state.first_use("iss", "old", later + 10, now=later)  # pruned once expired


def test_the_state_file_is_private(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "state"
    state = SharedState(directory)
    state.open()
    state.add("x", "")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():  # the database, and SQLite's -wal and -shm beside it
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert (directory / FILE_NAME).exists()
    state.reset_counters()
    assert state.counts() == []
    state.close()


def test_an_unusable_state_refuses_tokens_and_skips_counters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE_NAME).write_text("not a database, but a file of text " * 100)
    os.chmod(tmp_path / FILE_NAME, 0o600)
    verifier = _worker(tmp_path)
    with responses.RequestsMock() as rsps:
        rsps.get(JKU, json=VECTOR["jwks_public"])
        with pytest.raises(Unauthorized, match="replay check unavailable"):
            asyncio.run(verifier.verify(f"Bearer {mint()}", SERVICE))
    Metrics(SharedState(tmp_path)).inc("hook_calls")  # the call is answered; the count is lost, logged
    assert "counter hook_calls not stored" in caplog.text
