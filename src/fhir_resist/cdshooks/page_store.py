"""The patient pages the service's card links point to, kept in the state directory.

A page is stored when a hook call's cards are answered (only with ``FHIR_RESIST_PUBLIC_URL``
set, the service's address the links name) and served by ``GET /pages/{id}`` until it expires.
Its id is random (``secrets.token_urlsafe(32)``: 256 bits), never the patient's; the id is the
capability to read the page (a clinician's browser holds no CDS client's JWT), so it is never
logged, and the file is named by the SHA-256 of the id, so a listing of the directory gives no
id either.

Files are ``<state dir>/pages/<sha256 of id>.json``, ``0600`` in a ``0700`` directory, written
atomically; every process of ``serve --workers N`` shares them. A page older than
``page_ttl`` seconds (by its file's modification time) is answered as unknown; pruning, at most
once every ``PRUNE_EVERY`` seconds per process and by one process at a time, deletes expired
pages and then the oldest beyond ``pages_max``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from fhir_resist.cdshooks.settings import ServiceSettings
from fhir_resist.errors import JsonProblem
from fhir_resist.fhir import state_files
from fhir_resist.files import parse_json

JSON = dict[str, Any]
log = logging.getLogger("fhir_resist.service")

DIRECTORY = "pages"
FORMAT = 1  # the stored envelope's version: a page of another one is not served
PRUNE_EVERY = 1.0  # seconds between prunings by one process
ID = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) gives
_SUFFIX = ".json"


class PageStore:
    def __init__(self, directory: Path, *, ttl: float, most: int, prune_every: float = PRUNE_EVERY) -> None:
        self.directory = directory
        self.ttl = ttl
        self.most = most
        self.prune_every = prune_every
        self._pruned = 0.0  # when this process last pruned (time.monotonic)

    @classmethod
    def for_settings(cls, settings: ServiceSettings) -> PageStore | None:
        """The store, or None when pages are not linked (no public URL to link them at, or no
        state directory to share them through)."""
        if not settings.public_url or settings.state_dir is None:
            return None
        return cls(settings.state_dir / DIRECTORY, ttl=settings.page_ttl, most=settings.pages_max)

    def put(self, page: JSON) -> str:
        """Stores the page (``page_json``'s form) under a new random id, which it returns;
        ``OSError`` when it cannot be written."""
        page_id = secrets.token_urlsafe(32)
        data = json.dumps({"format": FORMAT, "page": page}, ensure_ascii=False, separators=(",", ":"))
        state_files.private_directory(self.directory)
        state_files.atomic_write(self._path(page_id), data.encode("utf-8", "surrogatepass"))
        now = time.monotonic()
        if now - self._pruned >= self.prune_every:
            self._pruned = now
            self.prune()
        return page_id

    def get(self, page_id: str) -> JSON | None:
        """The page stored under the id; None when unknown, expired or unreadable (the same
        answer for each: one open of a file by a name no caller chooses)."""
        if ID.fullmatch(page_id) is None:
            return None
        try:
            with open(self._path(page_id), "rb") as stored:
                if os.fstat(stored.fileno()).st_mtime < time.time() - self.ttl:
                    return None
                data = stored.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.error("a stored patient page could not be read: %s", exc.strerror)
            return None
        try:
            envelope = parse_json(data)
        except JsonProblem:
            envelope = None
        if (
            not isinstance(envelope, dict)
            or envelope.get("format") != FORMAT
            or not isinstance(envelope.get("page"), dict)
        ):
            log.warning("a stored patient page is not one this version reads; answered as unknown")
            return None
        page: JSON = envelope["page"]
        return page

    def prune(self) -> int:
        """Deletes expired pages, then the oldest beyond ``most``; how many it deleted (0 when
        another process is pruning)."""
        with state_files.file_lock(self.directory, "prune patient pages", blocking=False) as held:
            if not held or not self.directory.is_dir():
                return 0
            state_files.remove_leftovers(self.directory)
            oldest = time.time() - self.ttl
            kept: list[tuple[int, str]] = []
            removed = 0
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if not entry.name.endswith(_SUFFIX):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        modified = entry.stat().st_mtime_ns
                        if modified < oldest * 1e9:
                            removed += _remove(entry.path)
                        else:
                            kept.append((modified, entry.path))
            kept.sort()
            for _, path in kept[: max(len(kept) - self.most, 0)]:
                removed += _remove(path)
            return removed

    def _path(self, page_id: str) -> Path:
        return self.directory / f"{state_files.name_hash(page_id, 64)}{_SUFFIX}"


def _remove(path: str) -> int:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return 1
