"""The compiled catalogue in the user's cache: the same catalogue as from YAML, never stale, and
never trusted when it is damaged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fhir_resist.catalogue import compiled, load_catalogue, loader
from fhir_resist.catalogue.cache import ENV_CACHE_DIR
from fhir_resist.errors import CatalogueError
from tests.conftest import ROOT


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(ENV_CACHE_DIR, str(directory))
    return directory


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", target)
    return target


def _kept(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("catalogue-*.json"))


def _without_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, reading the catalogue's YAML fails the test: only the cache can answer."""

    def no_yaml(*_: object) -> None:
        pytest.fail("the catalogue was read from YAML although its compiled form was kept")

    monkeypatch.setattr(loader, "_files", no_yaml)


def test_a_kept_catalogue_is_the_catalogue_read_from_yaml(
    cache_dir: Path, copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_yaml = load_catalogue(copy, cache=False)
    assert _kept(cache_dir) == []
    first = load_catalogue(copy)  # read from YAML, then kept
    (kept,) = _kept(cache_dir)
    _without_yaml(monkeypatch)
    again = load_catalogue(copy)
    assert first == from_yaml and again == from_yaml
    assert again.rule_files == from_yaml.rule_files and again.hgnc_table == from_yaml.hgnc_table
    assert again.reading == from_yaml.reading
    assert [r.cases for r in again.rules] == [r.cases for r in from_yaml.rules]
    assert again.genes["KRAS"].exons == from_yaml.genes["KRAS"].exons
    assert kept.stat().st_mode & 0o777 == 0o600
    assert cache_dir.stat().st_mode & 0o777 == 0o700


def test_a_changed_rule_is_read_again(cache_dir: Path, copy: Path) -> None:
    load_catalogue(copy)
    rule = sorted((copy / "rules").rglob("*.yaml"))[0]
    rule_id = rule.stem
    text = rule.read_text()
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    rule.write_text(text.replace(title, "title: Changed after the catalogue was kept", 1))
    changed = load_catalogue(copy)
    assert next(r for r in changed.rules if r.id == rule_id).title == "Changed after the catalogue was kept"
    assert len(_kept(cache_dir)) == 1  # the entry of the old files was replaced


def test_an_added_or_removed_rule_file_is_read_again(cache_dir: Path, copy: Path) -> None:
    count = len(load_catalogue(copy).rules)
    named = (copy / "resistance-genes.yaml").read_text(encoding="utf-8")
    rule = next(p for p in sorted((copy / "rules").rglob("*.yaml")) if p.stem not in named)
    rule.unlink()  # a rule no other file names, so the rest stays valid
    assert len(load_catalogue(copy).rules) == count - 1


def test_a_changed_reference_table_is_checked_again(cache_dir: Path, copy: Path) -> None:
    load_catalogue(copy)
    drugs = copy / "reference" / "drugs.csv"
    drugs.write_text(drugs.read_text().replace("318341", "999999"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(copy)
    assert any("318341" in p and "not in the verified tables" in p for p in info.value.problems)


def test_a_catalogue_with_problems_is_never_kept(cache_dir: Path, copy: Path) -> None:
    drugs = copy / "drugs.yaml"
    drugs.write_text(drugs.read_text().replace('rxnorm: "318341"', 'rxnorm: "999999"', 1))
    for _ in range(2):
        with pytest.raises(CatalogueError):
            load_catalogue(copy)
    assert _kept(cache_dir) == []


def test_another_version_does_not_use_the_kept_catalogue(
    cache_dir: Path, copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_catalogue(copy)
    (old,) = _kept(cache_dir)
    monkeypatch.setattr(compiled, "VERSION", "0.0.0-another")
    load_catalogue(copy)
    (new,) = _kept(cache_dir)
    assert new != old


def test_the_same_files_elsewhere_are_another_catalogue(cache_dir: Path, copy: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "catalogue"
    shutil.copytree(copy, elsewhere)
    here, there = load_catalogue(copy), load_catalogue(elsewhere)
    assert len(_kept(cache_dir)) == 2
    assert load_catalogue(elsewhere).hgnc_table == there.hgnc_table == (elsewhere / "reference" / "hgnc.tsv")
    assert here.hgnc_table != there.hgnc_table


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data.replace(b"KRAS", b"KRAZ", 1), id="one-word-changed"),
        pytest.param(lambda data: b"\xff\xfe" + data, id="not-utf8"),
        pytest.param(lambda data: b"{}\n" + data.partition(b"\n")[2], id="header-lost"),
    ],
)
def test_a_damaged_kept_catalogue_is_replaced(
    cache_dir: Path, copy: Path, monkeypatch: pytest.MonkeyPatch, damage: object
) -> None:
    from_yaml = load_catalogue(copy)
    (kept,) = _kept(cache_dir)
    assert callable(damage)
    kept.write_bytes(damage(kept.read_bytes()))
    assert load_catalogue(copy) == from_yaml
    _without_yaml(monkeypatch)
    assert load_catalogue(copy) == from_yaml  # kept again, whole


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(b'"hgnc_id":', b'"hgnc_idx":', id="a-gene-without-its-hgnc-id"),
        pytest.param(b"\t", b" ", id="a-line-without-its-file"),
    ],
)
def test_a_kept_file_with_its_digest_is_still_checked(
    cache_dir: Path, copy: Path, old: bytes, new: bytes
) -> None:
    """Even with a matching digest, the kept lines are checked and the JSON validated again: a
    gene without its HGNC id, or a line that names no file, is refused and the YAML read."""
    import hashlib
    import json

    from_yaml = load_catalogue(copy)
    (kept,) = _kept(cache_dir)
    header, _, body = kept.read_bytes().partition(b"\n")
    body = body.replace(old, new, 1)
    about = json.loads(header)
    about["sha256"] = hashlib.sha256(body).hexdigest()
    kept.write_bytes(json.dumps(about).encode() + b"\n" + body)
    assert load_catalogue(copy) == from_yaml


def test_a_cache_others_may_write_is_not_used(
    cache_dir: Path, copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    load_catalogue(copy)
    cache_dir.chmod(0o777)
    _without_yaml(monkeypatch)
    with pytest.raises(pytest.fail.Exception):
        load_catalogue(copy)
    assert "is not used" in caplog.text and str(cache_dir) in caplog.text


def test_a_kept_file_others_may_write_is_not_used(
    cache_dir: Path, copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_catalogue(copy)
    (kept,) = _kept(cache_dir)
    kept.chmod(0o666)
    _without_yaml(monkeypatch)
    with pytest.raises(pytest.fail.Exception):
        load_catalogue(copy)


def test_a_kept_file_that_is_a_link_is_not_followed(
    cache_dir: Path, copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_catalogue(copy)
    (kept,) = _kept(cache_dir)
    target = tmp_path / "elsewhere.json"
    target.write_bytes(kept.read_bytes())
    target.chmod(0o600)
    kept.unlink()
    kept.symlink_to(target)
    _without_yaml(monkeypatch)
    with pytest.raises(pytest.fail.Exception):
        load_catalogue(copy)


def test_a_cache_that_cannot_be_written_only_slows_the_start(
    tmp_path: Path, copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(ENV_CACHE_DIR, str(blocker / "cache"))
    assert load_catalogue(copy) == load_catalogue(copy, cache=False)
