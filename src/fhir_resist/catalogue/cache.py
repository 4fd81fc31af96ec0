"""The user's private cache directory, and files kept in it whole or not at all.

``$FHIR_RESIST_CACHE_DIR``, else ``$XDG_CACHE_HOME/fhir-resist``, else ``~/.cache/fhir-resist``.
It is created 0700 and used only while it stays a directory of this user that nobody else may
read or write; its files are written 0600 under a temporary name and renamed into place, and read
only when they are regular files of this user that nobody else may read or write. What is read is
still checked by its reader (``compiled.py``), which ignores anything it cannot use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

ENV_CACHE_DIR = "FHIR_RESIST_CACHE_DIR"
_PRIVATE = 0o077  # no permission bit for the group or others
_log = logging.getLogger(__name__)
_warned: set[str] = set()


def cache_directory() -> Path | None:
    """Where the cache is kept, or None when the user has no home directory to keep it in."""
    configured = os.environ.get(ENV_CACHE_DIR)
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "fhir-resist"
    try:
        return Path.home() / ".cache" / "fhir-resist"
    except RuntimeError:  # no HOME and no password entry
        return None


def read_file(name: str) -> bytes | None:
    """The bytes of a file of the cache, or None if it is missing or not a private file."""
    directory = _directory(create=False)
    if directory is None:
        return None
    try:
        fd = os.open(directory / name, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        try:
            info = os.fstat(file.fileno())
            if not (stat.S_ISREG(info.st_mode) and _private(info)):
                return None
            return file.read()
        except OSError:
            return None


def write_file(name: str, data: bytes, replaces: str) -> None:
    """Keep ``data`` as ``name`` (atomically), removing the other files whose names start with
    ``replaces``; a cache that cannot be written is only a slower start."""
    directory = _directory(create=True)
    if directory is None:
        return
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, directory / name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        _log.debug("cache file %s not written (%s)", name, exc.strerror)
        return
    for old in directory.glob(f"{replaces}*"):
        if old.name != name:
            with contextlib.suppress(OSError):
                old.unlink()


def _directory(*, create: bool) -> Path | None:
    directory = cache_directory()
    if directory is None:
        return None
    try:
        if create:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
    except OSError:
        return None
    if stat.S_ISDIR(info.st_mode) and _private(info):
        return directory
    if str(directory) not in _warned:
        _warned.add(str(directory))
        _log.warning(
            "the cache directory %s is not used: it must be a directory of this user that nobody "
            "else may read or write (mode 0700); the catalogue is read from its YAML files",
            directory,
        )
    return None


def _private(info: os.stat_result) -> bool:
    owner = getattr(os, "geteuid", None)
    mine = owner is None or info.st_uid == owner()
    return mine and not info.st_mode & _PRIVATE
