"""Where the cache is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_resist.catalogue.cache import ENV_CACHE_DIR, cache_directory, read_file, write_file


def test_the_setting_names_the_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_CACHE_DIR, str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_directory() == tmp_path / "mine"


def test_xdg_cache_home_then_the_home_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_CACHE_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_directory() == tmp_path / "xdg" / "fhir-resist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")  # as the XDG specification says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_directory() == tmp_path / "home" / ".cache" / "fhir-resist"


def test_no_home_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CACHE_DIR, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    assert cache_directory() is None
    write_file("x.json", b"{}", "x")
    assert read_file("x.json") is None


def test_a_written_file_replaces_the_older_ones_it_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = tmp_path / "deep" / "cache"
    monkeypatch.setenv(ENV_CACHE_DIR, str(directory))
    write_file("entry-a.json", b"old", "entry-")
    write_file("other.json", b"kept", "other")
    write_file("entry-b.json", b"new", "entry-")
    assert sorted(p.name for p in directory.iterdir()) == ["entry-b.json", "other.json"]
    assert read_file("entry-b.json") == b"new" and read_file("entry-a.json") is None
    assert directory.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in directory.iterdir())


def test_a_directory_that_is_not_one_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    monkeypatch.setenv(ENV_CACHE_DIR, str(link))
    write_file("x.json", b"{}", "x")
    assert list(target.iterdir()) == [] and read_file("x.json") is None
