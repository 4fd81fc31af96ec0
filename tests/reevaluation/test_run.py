"""A run keeps at most two partitions with the engine: the one being read and the next."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from fhir_resist.batch import Outcome
from fhir_resist.reevaluation.engines import InProcess, Task
from fhir_resist.reevaluation.run import Plan, reevaluate
from fhir_resist.reevaluation.sources import sources
from tests.reevaluation.conftest import PATIENTS, example_resources, shuffled_export
from tests.reevaluation.test_engines import CATALOGUE, OPTIONS


class Counting(InProcess):
    """``InProcess``, counting the partitions sent and not yet read to the end."""

    def __init__(self) -> None:
        super().__init__(CATALOGUE, OPTIONS)
        self.open = self.most = self.sent = 0

    def evaluate(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        self.open += 1
        self.sent += 1
        self.most = max(self.most, self.open)
        return self._read(super().evaluate(tasks))

    def _read(self, outcomes: Iterator[Outcome]) -> Iterator[Outcome]:
        yield from outcomes
        self.open -= 1


def test_at_most_two_partitions_are_in_flight(tmp_path: Path) -> None:
    export = shuffled_export(tmp_path / "export", example_resources())
    engine = Counting()
    run = reevaluate(sources([str(export)]), engine, Plan(partitions=16), tmp_path / "work")
    rows = [row for partition in run.rows for row in partition]
    assert sorted(row.patient for row in rows) == sorted(PATIENTS)
    assert engine.sent >= 3  # the four patients fall in several partitions
    assert engine.most == 2
    assert engine.open == 0
