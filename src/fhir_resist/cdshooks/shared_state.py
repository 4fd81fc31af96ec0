"""What every process of the service shares: the token ids already seen, and the counters.

``serve --workers N`` runs N HTTP processes; a token replayed to another process must still be
refused, and ``/metrics`` must count every process's calls. Both live in one SQLite file in the
state directory (``FHIR_RESIST_STATE_DIR``, default the outbox's parent directory), opened by each
process in WAL mode: ``seen`` holds (issuer, hash of the ``jti``, expiry) and a token id is taken
by an ``INSERT OR FAIL``, which only one process can win; expired rows are pruned. ``counters``
holds (name, labels, value), incremented in place.

The file is 0600 and a directory created for it 0700; it holds no patient data and no token
(only a SHA-256 of each token id). The directory must be on a local disk (WAL needs shared
memory between the processes). Without a directory the state is in memory, for this process only.
The file is opened on first use, and opened again in a forked child.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger("fhir_resist.service")

FILE_NAME = "fhir-resist-state.sqlite3"
PRUNE_EVERY = 60.0  # seconds between deletions of expired token ids
BUSY_TIMEOUT_MS = 5000
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS seen (issuer TEXT NOT NULL, jti TEXT NOT NULL, expires REAL NOT NULL,"
    " PRIMARY KEY (issuer, jti)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS seen_expires ON seen (expires)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT NOT NULL, labels TEXT NOT NULL,"
    " value INTEGER NOT NULL, PRIMARY KEY (name, labels)) WITHOUT ROWID",
)


class SharedState:
    def __init__(self, directory: Path | None = None) -> None:
        self.path = directory / FILE_NAME if directory is not None else None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._pruned = 0.0

    def open(self) -> None:
        """Open (and create) the file now: a state directory that cannot be used is an ``OSError``."""
        with self._lock:
            self._connection()

    def first_use(self, issuer: str, jti: str, expires: float, *, now: float | None = None) -> bool:
        """Records the token id; False when any process has recorded it before (a replay)."""
        now = time.time() if now is None else now
        digest = hashlib.sha256(jti.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            db = self._connection()
            if now - self._pruned >= PRUNE_EVERY:
                db.execute("DELETE FROM seen WHERE expires < ?", (now,))
                self._pruned = now
            try:
                db.execute("INSERT OR FAIL INTO seen VALUES (?, ?, ?)", (issuer, digest, expires))
            except sqlite3.IntegrityError:
                return False
        return True

    def add(self, name: str, labels: str, amount: int = 1) -> None:
        self.add_all([(name, labels, amount)])

    def add_all(self, counts: list[tuple[str, str, int]]) -> None:
        """Adds each (name, labels, amount) in one transaction: a call's counters, one write."""
        with self._lock:
            db = self._connection()
            with db:  # BEGIN ... COMMIT, or ROLLBACK on an error
                db.execute("BEGIN")
                db.executemany(
                    "INSERT INTO counters VALUES (?, ?, ?)"
                    " ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value",
                    counts,
                )

    def counts(self) -> list[tuple[str, str, int]]:
        """Every counter, as (name, labels, value), ordered by name and labels."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT name, labels, value FROM counters ORDER BY name, labels"
            )
            return [(str(n), str(lbl), int(v)) for n, lbl, v in rows]

    def reset_counters(self) -> None:
        with self._lock:
            self._connection().execute("DELETE FROM counters")

    def close(self) -> None:
        with self._lock:
            if self._db is not None and self._pid == os.getpid():
                self._db.close()
            self._db = None

    def _connection(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        if self.path is None:
            db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        else:
            _create(self.path)
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            db.execute(statement)
        self._db, self._pid = db, os.getpid()
        return db


def _create(path: Path) -> None:
    """The directory (0700 when created here) and the file (0600), before SQLite opens it; SQLite
    gives its ``-wal`` and ``-shm`` files the file's permissions."""
    if not path.parent.is_dir():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # whatever the umask
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    path.chmod(0o600)
