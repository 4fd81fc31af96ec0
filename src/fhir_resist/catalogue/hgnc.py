"""HGNC's complete symbol table (``catalogue/reference/hgnc.tsv``): every HGNC id with its approved
symbol, previous symbols and alias symbols, and each withdrawn id with the ids that replaced it.

The catalogue's own genes (``genes.yaml``) come first; this table names every other gene, so that a
report coding a gene only as ``HGNC:11389`` reads as STK11. It is read once per file, on first use
(its cost: the figure ``hgnc_table_load_ms`` of ``bench/run.py``, about 25 ms on two cores, the
index of previous symbols about 0.1 s more when a symbol is first looked up there).

Run as ``python -m fhir_resist.catalogue.hgnc EXPORT.tsv > catalogue/reference/hgnc.tsv`` to
rebuild the table from an HGNC custom download with the columns HGNC ID, Approved symbol, Approved
name, Status, Previous symbols and Alias symbols (the header names them; others are ignored).
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

APPROVED = "Approved"
SYMBOL_WITHDRAWN = "Symbol Withdrawn"
ENTRY_WITHDRAWN = "Entry Withdrawn"
COLUMNS = ("hgnc_id", "symbol", "status", "previous_symbols", "alias_symbols", "replaced_by")
_SEE = re.compile(r"HGNC:\s*(\d+)")


@dataclass(frozen=True, slots=True)
class HgncEntry:
    hgnc_id: str  # "HGNC:11389"
    symbol: str  # the approved symbol, or the withdrawn one
    status: str  # HGNC's words: Approved | Symbol Withdrawn | Entry Withdrawn
    previous_symbols: tuple[str, ...] = ()
    alias_symbols: tuple[str, ...] = ()
    replaced_by: tuple[str, ...] = ()  # a withdrawn symbol's successors, as HGNC ids


@dataclass(frozen=True)
class HgncTable:
    """The table, indexed: entries by id, and approved symbols by a previous symbol that names
    exactly one approved gene. A previous symbol shared by several genes, or that is another
    gene's approved or alias symbol (SRC1: once SRC, but the usual name of NCOA1), decides
    nothing and is left out."""

    source: str  # the provenance header of the file, one line
    by_id: Mapping[str, HgncEntry]
    by_previous: Mapping[str, str]

    def symbol(self, hgnc_id: str) -> str | None:
        """The approved symbol of an HGNC id; a withdrawn symbol replaced by exactly one gene reads
        as that gene's symbol; an id withdrawn outright, or not in the table, as None."""
        entry = self.by_id.get(normalise_id(hgnc_id))
        if entry is None:
            return None
        if entry.status == APPROVED:
            return entry.symbol
        if len(entry.replaced_by) == 1:
            successor = self.by_id.get(entry.replaced_by[0])
            if successor is not None and successor.status == APPROVED:
                return successor.symbol
        return None

    def current(self, symbol: str) -> str | None:
        """The approved symbol that a previous symbol now stands for, if exactly one."""
        return self.by_previous.get(symbol.upper())


def normalise_id(hgnc_id: str) -> str:
    """``HGNC:11389`` for ``11389``, ``hgnc:11389`` or ``HGNC:11389``."""
    text = hgnc_id.strip()
    number = text[5:] if text.upper().startswith("HGNC:") else text
    return f"HGNC:{number.strip()}"


def read_table(path: Path) -> HgncTable:
    """The table in ``path`` (``OSError`` if it cannot be read); ``load_table`` keeps it.

    Rows stay split text until an entry is asked for (``_Entries``), and previous symbols are
    indexed when first looked up (``_OnFirstUse``): a report names a few dozen of the table's
    genes, usually by HGNC id, and indexing all of it up front cost about 0.2 s a process."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [line[1:].strip() for line in lines if line.startswith("#")]
    body = [line for line in lines if line and not line.startswith("#")]
    if not body or body[0].split("\t") != list(COLUMNS):
        raise OSError(f"{path}: not an HGNC table (the columns are not {', '.join(COLUMNS)})")
    tabs = len(COLUMNS) - 1
    if any(line.count("\t") != tabs for line in body):
        raise OSError(f"{path}: not an HGNC table (a row has not {len(COLUMNS)} columns)")
    by_id = {line[: line.index("\t")]: line for line in body[1:]}

    def previous() -> dict[str, str]:
        rows = (line.split("\t") for line in by_id.values())
        return _by_previous((row[1], _listed(row[3]), _listed(row[4])) for row in rows if row[2] == APPROVED)

    return HgncTable(" ".join(header), _Entries(by_id), _OnFirstUse(previous))


load_table = cache(read_table)  # the table in ``path``, read once per process


def index(entries: Iterable[HgncEntry], source: str = "") -> HgncTable:
    by_id = {entry.hgnc_id: entry for entry in entries}
    current = [
        (e.symbol, e.previous_symbols, e.alias_symbols) for e in by_id.values() if e.status == APPROVED
    ]
    return HgncTable(source, MappingProxyType(by_id), MappingProxyType(_by_previous(current)))


def _by_previous(current: Iterable[tuple[str, tuple[str, ...], tuple[str, ...]]]) -> dict[str, str]:
    """Approved symbols by a previous symbol that names exactly one of them, and no other gene
    (``current``: each approved gene's symbol, previous symbols and alias symbols)."""
    genes = list(current)
    approved = {symbol.upper() for symbol, _, _ in genes}
    claims: dict[str, set[str]] = {}
    aliases: dict[str, set[str]] = {}
    for symbol, previous_symbols, alias_symbols in genes:
        for previous in previous_symbols:
            claims.setdefault(previous.upper(), set()).add(symbol)
        for alias in alias_symbols:
            aliases.setdefault(alias.upper(), set()).add(symbol)
    return {
        previous: next(iter(symbols))
        for previous, symbols in claims.items()
        if len(symbols) == 1 and previous not in approved and not aliases.get(previous, set()) - symbols
    }


class _Entries(Mapping[str, HgncEntry]):
    """The table's entries by HGNC id, each made from its line (the table's columns, checked when
    the table was read) when asked for."""

    __slots__ = ("_rows",)

    def __init__(self, rows: dict[str, str]) -> None:
        self._rows = rows

    def __getitem__(self, hgnc_id: str) -> HgncEntry:
        hgnc_id, symbol, status, previous, alias, replaced = self._rows[hgnc_id].split("\t")
        return HgncEntry(hgnc_id, symbol, status, _listed(previous), _listed(alias), _listed(replaced))

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, hgnc_id: object) -> bool:
        return hgnc_id in self._rows


class _OnFirstUse(Mapping[str, str]):
    """A mapping computed when it is first read: the previous symbols of the whole table take
    longer to index than the rest of it, and a report that codes its genes by HGNC id needs none."""

    __slots__ = ("_made", "_make")

    def __init__(self, make: Callable[[], dict[str, str]]) -> None:
        self._make = make
        self._made: dict[str, str] | None = None

    def _mapping(self) -> dict[str, str]:
        if self._made is None:
            self._made = self._make()
        return self._made

    def __getitem__(self, key: str) -> str:
        return self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())


def _listed(text: str) -> tuple[str, ...]:
    """A list cell of the table as written (comma-separated, no spaces)."""
    return tuple(text.split(",")) if text else ()


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


# ---------------------------------------------------------------- building the table from HGNC


def from_export(lines: Iterable[str]) -> Iterator[HgncEntry]:
    """The entries of an HGNC custom download (tab-separated, with HGNC's column names)."""
    for row in csv.DictReader(lines, delimiter="\t"):
        status = row["Status"].strip()
        replaced_by: tuple[str, ...] = ()
        if status == SYMBOL_WITHDRAWN:  # "symbol withdrawn, see [HGNC:12469](...)"
            replaced_by = tuple(dict.fromkeys(f"HGNC:{n}" for n in _SEE.findall(row["Approved name"])))
        yield HgncEntry(
            hgnc_id=normalise_id(row["HGNC ID"]),
            symbol=row["Approved symbol"].strip(),
            status=status,
            previous_symbols=_split(row.get("Previous symbols")),
            alias_symbols=_split(row.get("Alias symbols")),
            replaced_by=replaced_by,
        )


def write_table(entries: Iterable[HgncEntry], header: Iterable[str], out: list[str]) -> None:
    """The table's lines: ``#`` provenance lines, the column names, one entry per line."""
    out.extend(f"# {line}" for line in header)
    out.append("\t".join(COLUMNS))
    for e in entries:
        lists = (e.previous_symbols, e.alias_symbols, e.replaced_by)
        out.append("\t".join((e.hgnc_id, e.symbol, e.status, *(",".join(values) for values in lists))))


def main(argv: list[str]) -> int:  # pragma: no cover - a maintainer's tool, exercised by hand
    if len(argv) < 2:
        sys.stderr.write("usage: python -m fhir_resist.catalogue.hgnc EXPORT.tsv [HEADER LINE...]\n")
        return 2
    with open(argv[1], encoding="utf-8", newline="") as handle:
        entries = sorted(from_export(handle), key=lambda e: int(e.hgnc_id[5:]))
    out: list[str] = []
    write_table(entries, argv[2:], out)
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv))
