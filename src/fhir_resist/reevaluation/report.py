"""The change report: a row per patient, the run's totals, and the summary table's files.

Rows are written as they come (one partition at a time, patients sorted within it), to CSV and,
when asked, to Parquet in row groups, so that the table of a large population never sits in
memory whole.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from fhir_resist.errors import InputError

# evaluated; failed (with ``error``); not-affected (the catalogue change does not touch them)
Outcome = str


@dataclass(frozen=True, slots=True)
class Row:
    patient: str
    outcome: Outcome
    change: str = ""  # first | changed | unchanged ("" when not evaluated)
    observations: int = 0
    alerts: int = 0
    new: int = 0
    withdrawn: int = 0
    severity_changed: int = 0
    countermeasures_changed: int = 0
    unchanged: int = 0
    changes: str = ""  # the changes in words
    rules: str = ""  # the changed rules that touch the patient (with --catalogue-before)
    written: str = ""  # what the write-back did (with --write)
    error: str = ""


COLUMNS = tuple(f.name for f in fields(Row))


@dataclass
class Totals:
    patients: int = 0
    observations: int = 0
    evaluated: int = 0
    not_affected: int = 0
    first: int = 0
    changed: int = 0
    unchanged: int = 0
    alerts_new: int = 0
    alerts_withdrawn: int = 0
    alerts_severity_changed: int = 0
    alerts_countermeasures_changed: int = 0
    alerts_unchanged: int = 0
    written: int = 0
    not_written: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # patient, reason
    problems: list[tuple[str, str]] = field(default_factory=list)  # file:line or resource, what

    def add(self, row: Row) -> None:
        self.patients += 1
        self.observations += row.observations
        if row.outcome == "failed":
            self.errors.append((row.patient, row.error))
            return
        if row.outcome == "not-affected":
            self.not_affected += 1
            return
        self.evaluated += 1
        setattr(self, row.change, getattr(self, row.change) + 1)
        self.alerts_new += row.new
        self.alerts_withdrawn += row.withdrawn
        self.alerts_severity_changed += row.severity_changed
        self.alerts_countermeasures_changed += row.countermeasures_changed
        self.alerts_unchanged += row.unchanged
        if row.written:
            ok = row.written in ("delivered", "superseded")
            self.written += ok
            self.not_written += not ok

    def lines(self) -> list[str]:
        """The totals as the command prints them."""
        out = [
            f"patients: {self.patients} ({self.evaluated} evaluated, {self.not_affected} not affected "
            f"by the catalogue change, {len(self.errors)} failed); Observations: {self.observations}",
            f"patients: {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.first} without an earlier result",
            f"alerts: {self.alerts_new} new, {self.alerts_withdrawn} withdrawn, "
            f"{self.alerts_severity_changed} changed severity, "
            f"{self.alerts_countermeasures_changed} changed countermeasures, "
            f"{self.alerts_unchanged} unchanged",
        ]
        if self.written or self.not_written:
            out.append(f"written back: {self.written}, not written: {self.not_written} (see the outbox)")
        out.append(
            f"errors: {len(self.errors)} patient(s) not evaluated, {len(self.problems)} input problem(s)"
        )
        out.extend(f"  {where}: {reason}" for where, reason in (*self.problems, *self.errors))
        return out


class Table:
    """The summary table's files: CSV and/or Parquet, written a partition at a time."""

    def __init__(self, csv_path: str | None, parquet_path: str | None) -> None:
        self._csv: IO[str] | None = None
        self._writer: Any = None
        self._parquet: Any = None
        self._parquet_path = parquet_path
        if csv_path:
            try:
                self._csv = Path(csv_path).open("w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise InputError(f"cannot be written ({exc.strerror})", where=csv_path) from None
            self._writer = csv.DictWriter(self._csv, fieldnames=COLUMNS)
            self._writer.writeheader()
        if parquet_path:
            import pyarrow.parquet as pq

            try:
                self._parquet = pq.ParquetWriter(parquet_path, _schema())
            except OSError as exc:
                raise InputError(f"cannot be written ({exc})", where=parquet_path) from None

    def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        if self._writer is not None:
            self._writer.writerows(asdict(row) for row in rows)
        if self._parquet is not None:
            import pyarrow as pa

            columns = {name: [getattr(row, name) for row in rows] for name in COLUMNS}
            self._parquet.write_table(pa.table(columns, schema=_schema()))

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
        if self._parquet is not None:
            self._parquet.close()


def _schema() -> Any:
    import pyarrow as pa

    types = {int: pa.int64(), str: pa.string()}
    return pa.schema([(f.name, types[int] if f.type in (int, "int") else types[str]) for f in fields(Row)])
