"""The patient pages on disk: stored and read by a random id, expired and unknown alike, bounded by
age and count, private files named by a hash, shared by every store on one directory."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from fhir_resist.cdshooks.page_store import ID, PageStore
from fhir_resist.cdshooks.settings import ServiceSettings
from tests.conftest import file_mode

PAGE = {"patient": "Patient/p1", "alerts": []}
DAY = 24 * 3600.0


def _store(tmp_path: Path, *, ttl: float = DAY, most: int = 100) -> PageStore:
    return PageStore(tmp_path / "state" / "pages", ttl=ttl, most=most, prune_every=0)


def _age(store: PageStore, page_id: str, seconds: float) -> None:
    path = store._path(page_id)
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_page_is_read_back_by_its_id(tmp_path: Path) -> None:
    store = _store(tmp_path)
    page_id = store.put(PAGE)
    assert ID.fullmatch(page_id)
    assert store.get(page_id) == PAGE
    assert store.put(PAGE) != page_id  # a new id for every page


def test_files_are_private_and_named_by_a_hash_of_the_id(tmp_path: Path, usual_umask: None) -> None:
    store = _store(tmp_path)
    page_id = store.put(PAGE)
    (path,) = store.directory.glob("*.json")
    assert page_id not in path.name and "p1" not in path.name and len(path.stem) == 64
    assert file_mode(path) == 0o600
    assert file_mode(store.directory) == file_mode(store.directory.parent) == 0o700


@pytest.mark.parametrize(
    "page_id", ["", "short", "../../etc/passwd", "x" * 42 + "/", "x" * 44, "x" * 42 + "é"]
)
def test_malformed_ids_are_unknown(tmp_path: Path, page_id: str) -> None:
    store = _store(tmp_path)
    store.put(PAGE)
    assert store.get(page_id) is None


def test_unknown_and_expired_are_alike(tmp_path: Path) -> None:
    store = _store(tmp_path, ttl=3600)
    page_id = store.put(PAGE)
    _age(store, page_id, 3599)
    assert store.get(page_id) == PAGE
    _age(store, page_id, 3601)
    assert store.get(page_id) is None
    assert store.get("A" * 43) is None
    assert PageStore(tmp_path / "none", ttl=1, most=1).get("A" * 43) is None  # no directory yet


def test_pruning_deletes_expired_pages_then_the_oldest_beyond_the_count(tmp_path: Path) -> None:
    store = _store(tmp_path, ttl=3600, most=3)
    ids = [store.put(PAGE) for _ in range(3)]
    for n, page_id in enumerate(ids):
        _age(store, page_id, 100 - n)  # ids[0] the oldest
    _age(store, ids[1], 4000)  # expired
    newer = [store.put(PAGE) for _ in range(2)]  # each put prunes (prune_every 0)
    assert store.get(ids[1]) is None and store.get(ids[0]) is None  # expired, then the oldest
    assert [store.get(i) for i in [ids[2], *newer]] == [PAGE] * 3
    assert len(list(store.directory.glob("*.json"))) == 3


def test_pruning_is_at_most_once_per_interval_per_store(tmp_path: Path) -> None:
    store = PageStore(tmp_path / "pages", ttl=DAY, most=1, prune_every=3600)
    first, second = store.put(PAGE), store.put(PAGE)  # the first put pruned; the second did not
    assert store.get(first) == store.get(second) == PAGE
    assert store.prune() == 1
    assert store.get(first) is None and store.get(second) == PAGE


def test_pruning_leaves_a_store_another_process_prunes(tmp_path: Path) -> None:
    from fhir_resist.fhir.state_files import file_lock

    store = PageStore(tmp_path / "pages", ttl=DAY, most=1, prune_every=3600)
    store.put(PAGE)
    store.put(PAGE)
    with file_lock(store.directory, "prune patient pages"):
        assert store.prune() == 0
    assert store.prune() == 1
    assert PageStore(tmp_path / "absent", ttl=1, most=1).prune() == 0


def test_stores_on_one_directory_share_their_pages(tmp_path: Path) -> None:
    one, other = _store(tmp_path), _store(tmp_path)
    assert other.get(one.put(PAGE)) == PAGE


def test_a_page_of_another_version_or_broken_is_unknown_and_logged_without_its_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = _store(tmp_path)
    broken, other, half = store.put(PAGE), store.put(PAGE), store.put(PAGE)
    store._path(broken).write_bytes(b"{not json")
    store._path(other).write_text('{"format": 99, "page": {}}')
    store._path(half).write_text('{"format": 1, "page": []}')
    with caplog.at_level(logging.INFO):
        assert store.get(broken) is None and store.get(other) is None and store.get(half) is None
    assert caplog.text.count("not one this version reads") == 3
    assert all(i not in caplog.text for i in (broken, other, half))


def test_an_unreadable_page_is_unknown_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = _store(tmp_path)
    page_id = store.put(PAGE)
    store._path(page_id).unlink()
    store._path(page_id).mkdir()  # reading it fails with EISDIR
    with caplog.at_level(logging.ERROR):
        assert store.get(page_id) is None
    assert "could not be read" in caplog.text and page_id not in caplog.text


def test_the_store_is_only_there_with_a_public_url_and_a_state_directory(tmp_path: Path) -> None:
    assert PageStore.for_settings(ServiceSettings(auth="off", state_dir=tmp_path)) is None
    assert PageStore.for_settings(ServiceSettings(auth="off", public_url="https://cds.example.org")) is None
    settings = ServiceSettings(
        auth="off", public_url="https://cds.example.org", state_dir=tmp_path, page_ttl=60, pages_max=5
    )
    store = PageStore.for_settings(settings)
    assert store is not None
    assert (store.directory, store.ttl, store.most) == (tmp_path / "pages", 60, 5)


def test_a_page_already_removed_by_another_pruner_counts_as_none(tmp_path: Path) -> None:
    from fhir_resist.cdshooks.page_store import _remove

    assert _remove(str(tmp_path / "gone.json")) == 0
