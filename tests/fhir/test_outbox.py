"""The outbox on disk: private files, hashed lock names, crash leftovers, the first format, locks."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.errors import InputError
from fhir_resist.fhir import state_files
from fhir_resist.fhir.delivery import key_of, scope_of
from fhir_resist.fhir.outbox import NOT_YET_SENT, Outbox, Scope, evaluated_at
from tests.conftest import SCENARIOS, file_mode, load_json
from tests.hapi import BASE

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
KRAS = "crc-kras-g12d-cetuximab"
SCOPE = Scope("Patient/pat-1", ("MedicationRequest/mr-cetux",))


@pytest.fixture
def bundle(catalogue: Catalogue) -> dict[str, Any]:
    return to_bundle(evaluate([load_json(SCENARIOS / f"{KRAS}.json")], catalogue=catalogue, at=AT))


def test_every_item_records_its_evaluation_time(bundle: dict[str, Any], tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.put(key_of(bundle), bundle, server=BASE, scope=SCOPE, error=NOT_YET_SENT, attempts=0)
    (item,), problems = outbox.items()
    assert not problems
    assert item.evaluated == evaluated_at(bundle) == "2026-04-01T09:00:00Z"
    assert json.loads(item.path.read_text())["evaluated"] == item.evaluated
    assert (item.state, item.attempts, item.error) == ("pending", 0, NOT_YET_SENT)


def test_outbox_files_are_private_and_lock_names_disclose_no_patient(
    bundle: dict[str, Any], tmp_path: Path, usual_umask: None
) -> None:
    outbox = Outbox(tmp_path / "state" / "fhir-resist" / "outbox")
    path = outbox.put(key_of(bundle), bundle, server=BASE, scope=SCOPE, error="503")
    with outbox.lock(f"{BASE}|Patient/pat-1") as held:
        assert held
        locks = outbox.directory / ".locks"
        names = [p.name for p in locks.iterdir()]
        assert names and all("pat" not in n and "Patient" not in n for n in names)
        assert all(file_mode(locks / n) == 0o600 for n in names)
    assert "pat" not in path.name
    assert file_mode(path) == 0o600
    for directory in (outbox.directory, outbox.directory.parent, outbox.directory.parent.parent, locks):
        assert file_mode(directory) == 0o700, directory


def test_an_existing_directory_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    state_files.private_directory(shared / "outbox")
    assert file_mode(shared) == 0o755
    assert file_mode(shared / "outbox") == 0o700


def test_crash_leftovers_are_not_items_and_retry_removes_old_ones(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox")
    path = outbox.put(key_of(bundle), bundle, server=BASE, scope=SCOPE, error="503")
    complete = outbox.directory / ".tmp-complete.json"
    complete.write_bytes(path.read_bytes())  # a crash between fsync and rename
    partial = outbox.directory / ".tmp-partial.json"
    partial.write_text('{"format": "fhir-resist-out')
    fresh = outbox.directory / ".tmp-fresh.json"
    fresh.write_text("{")  # a writer still at work
    old = time.time() - 3600
    for leftover in (complete, partial):
        os.utime(leftover, (old, old))
    items, problems = outbox.items()
    assert [i.path for i in items] == [path]
    assert problems == []
    assert outbox.remove_leftovers() == 2
    assert sorted(p.name for p in outbox.directory.iterdir()) == sorted([".tmp-fresh.json", path.name])


def test_items_of_the_first_format_still_load(bundle: dict[str, Any], tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox")
    outbox.directory.mkdir()
    key = key_of(bundle)
    legacy = outbox.directory / f"{key}.json"
    legacy.write_text(
        json.dumps(
            {
                "format": "fhir-resist-outbox/1",
                "key": key,
                "server": BASE,
                "created": "2026-04-01T09:00:05+00:00",
                "updated": "2026-04-01T09:00:05+00:00",
                "attempts": 3,
                "state": "pending",
                "error": "503",
                "outcome": None,
                "scope": {"patient": "Patient/pat-1", "therapies": list(SCOPE.therapies)},
                "bundle": bundle,
            }
        )
    )
    (item,), problems = outbox.items()
    assert not problems
    assert (item.key, item.evaluated, item.attempts) == (key, "2026-04-01T09:00:00Z", 3)
    # Kept again (e.g. after another failure), it moves to the new format and name, attempts kept.
    path = outbox.put(key, bundle, server=BASE, scope=SCOPE, error="502")
    assert not legacy.exists()
    (again,), _ = outbox.items()
    assert (again.path, again.attempts, again.created) == (path, 4, item.created)


def test_an_unknown_state_or_format_is_named_not_loaded(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"format": "fhir-resist-outbox/2", "state": "sending"}))
    (tmp_path / "b.json").write_text(json.dumps({"format": "other"}))
    items, problems = outbox.items()
    assert items == []
    assert [p.where for p in problems] == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]


def test_an_outbox_that_cannot_be_written_is_refused_up_front(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(InputError, match="not-a-directory/outbox is not writable"):
        Outbox(blocker / "outbox").ensure_writable()
    Outbox(tmp_path / "fine").ensure_writable()
    assert list((tmp_path / "fine").iterdir()) == []


def test_a_lock_held_elsewhere_is_reported_not_waited_for(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    with outbox.lock("server|Patient/p") as first:
        assert first
        with outbox.lock("server|Patient/p", blocking=False) as second:
            assert not second
        with outbox.lock("server|Patient/other", blocking=False) as other:
            assert other
    with outbox.lock("server|Patient/p", blocking=False) as after:
        assert after


def test_a_lock_that_cannot_be_created_does_not_stop_delivery(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with state_files.file_lock(blocker / "locks", "name") as held:
        assert held


def test_evaluated_at_is_empty_without_a_guidance_response(catalogue: Catalogue) -> None:
    assessment = evaluate([load_json(SCENARIOS / f"{KRAS}.json")], catalogue=catalogue, at=AT)
    bundle = to_bundle(assessment)
    assert scope_of(assessment).patient == "Patient/pat-1"
    assert evaluated_at({"resourceType": "Bundle", "entry": bundle["entry"][:1]}) == ""


def test_a_failed_atomic_write_leaves_the_old_item_and_no_leftover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "item.json"
    target.write_text("old")

    def broken(source: str, destination: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        state_files.atomic_write(target, b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["item.json"]
    assert target.read_text() == "old"


def test_an_evaluation_of_unknown_time_supersedes_nothing_and_is_never_superseded() -> None:
    from fhir_resist.fhir.superseding import Candidate, is_newer

    known = Candidate("b", "2026-04-02T09:00:00Z", "", "on the server")
    unknown = Candidate("b", "not a time", "", "on the server")
    assert is_newer(known, "a", "2026-04-01T09:00:00Z", "")
    assert not is_newer(known, "a", "", "")
    assert not is_newer(unknown, "a", "2026-04-01T09:00:00Z", "")
