"""Private state on disk: directories only their owner can enter, files only their owner can read,
atomic replacement, cross-process locks whose names say nothing about whom they protect, and the
removal of what a crash left behind.

The outbox and the feedback file hold patient data (results, clinicians' comments), so every
directory created here is ``0700`` and every file ``0600``, whatever the umask. Locks use the
``filelock`` package (``flock`` on POSIX, ``LockFileEx`` on Windows); a lock file is named by a
hash of what it protects, never by a patient id.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
TEMPORARY_PREFIX = ".tmp-"
LEFTOVER_AGE = 300.0  # seconds: a temporary file this old belongs to no writer still running


def name_hash(text: str, length: int = 32) -> str:
    """A file-name-safe stand-in for ``text`` that does not disclose it (SHA-256, hex)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def private_directory(path: Path) -> Path:
    """``path`` and any missing parent, each created ``0700``; an existing directory is kept as is."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=PRIVATE_DIRECTORY)
            os.chmod(directory, PRIVATE_DIRECTORY)  # mkdir's mode is filtered by the umask
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a crash leaves the old file or the new one, never half.

    The data goes to a temporary file in the same directory (``.tmp-*``, ``0600`` as ``mkstemp``
    creates it), is fsynced and renamed over ``path``; the directory is fsynced so that the rename
    survives a power cut.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover - Windows cannot open a directory
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@contextlib.contextmanager
def file_lock(directory: Path, name: str, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock called ``name`` in ``directory`` (shared by every process using it).

    Yields ``True`` once held; with ``blocking=False`` yields ``False`` at once when another holder
    has it. The lock file is ``<sha256 of name>.lock``, ``0600``, in a ``0700`` directory.
    When the lock file cannot be created at all (a full or read-only disk), yields ``True``
    without a cross-process lock: what the caller protects matters more than the lock does.
    """
    try:
        private_directory(directory)
        lock = FileLock(directory / f"{name_hash(name)}.lock", mode=PRIVATE_FILE)
        lock.acquire(blocking=blocking)
    except Timeout:
        yield False
        return
    except OSError:
        yield True
        return
    try:
        yield True
    finally:
        lock.release()


def remove_leftovers(directory: Path, *, older_than: float = LEFTOVER_AGE, now: float | None = None) -> int:
    """Remove the temporary files (``.tmp-*``) a crash left in ``directory`` that were not touched
    for ``older_than`` seconds (a younger one may belong to a writer still at work); returns how many."""
    if not directory.is_dir():
        return 0
    limit = (time.time() if now is None else now) - older_than
    removed = 0
    for path in directory.glob(f"{TEMPORARY_PREFIX}*"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
    return removed
