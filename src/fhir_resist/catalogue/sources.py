"""The files a catalogue directory is made of, each read once, and their digest.

The loader parses these bytes, and the compiled catalogue is cached under their digest, so what was
hashed is exactly what was parsed: a file that changes between the two cannot leave a stale entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# The data files (schema models, in this order) and the reference tables the checks read.
DATA_FILES = (
    "catalogue.yaml",
    "genes.yaml",
    "drugs.yaml",
    "tumours.yaml",
    "requirements.yaml",
    "exons.yaml",
    "resistance-genes.yaml",
    "reading.yaml",
)
RULES = "rules"
REFERENCE = "reference"
HGNC_TABLE = "hgnc.tsv"
# The code the checks of a catalogue run (schema, loader, lint, verified codes): a cached catalogue
# was checked by this code, so a change to it invalidates the cache as a change to the data does.
# It is read once per process.
_CHECKING_CODE = ("domain.py", "terminology.py", "reading_rules.py", "hgvs.py")


@dataclass(frozen=True)
class Sources:
    """The bytes of every file the catalogue is built from, by path relative to its directory."""

    root: Path
    files: dict[str, bytes]  # catalogue.yaml, ..., rules/<area>/<rule>.yaml, reference/<table>.csv
    unreadable: dict[str, str]  # path -> why it could not be read
    hgnc_table: bool  # reference/hgnc.tsv is there (read on first use, not here)

    def rule_paths(self) -> list[str]:
        return sorted(p for p in (*self.files, *self.unreadable) if p.startswith(f"{RULES}/"))

    def digest(self, version: str) -> str:
        """SHA-256 of the directory's place, every file's name and bytes, the product's version and
        the code that checks a catalogue."""
        sha = hashlib.sha256()
        sha.update(f"fhir-resist {version}\0{self.root.resolve()}\0{self.hgnc_table}\0".encode())
        for name in sorted(self.files):
            _add(sha, name, self.files[name])
        for name in sorted(self.unreadable):
            _add(sha, name, b"\0unreadable")
        for name, text in _checking_code():
            _add(sha, f"code:{name}", text)
        return sha.hexdigest()


def read_sources(root: Path) -> Sources:
    """The catalogue's files as bytes; a file that cannot be read is noted with the reason."""
    names = [*DATA_FILES]
    names += sorted(str(p.relative_to(root).as_posix()) for p in (root / RULES).rglob("*.yaml"))
    names += sorted(str(p.relative_to(root).as_posix()) for p in (root / REFERENCE).glob("*.csv"))
    files: dict[str, bytes] = {}
    unreadable: dict[str, str] = {}
    for name in names:
        try:
            files[name] = (root / name).read_bytes()
        except OSError as exc:
            unreadable[name] = exc.strerror or type(exc).__name__
    return Sources(root, files, unreadable, (root / REFERENCE / HGNC_TABLE).is_file())


def _add(sha: hashlib._Hash, name: str, data: bytes) -> None:
    sha.update(f"{name}\0{len(data)}\0".encode())
    sha.update(data)


@cache
def _checking_code() -> tuple[tuple[str, bytes], ...]:
    package = Path(__file__).resolve().parent
    files = sorted(package.rglob("*.py"))
    files += [package.parent / name for name in _CHECKING_CODE]
    out = []
    for file in files:
        try:
            out.append((str(file.relative_to(package.parent).as_posix()), file.read_bytes()))
        except OSError:  # a package installed without its sources: its version still keys the cache
            continue
    return tuple(out)
