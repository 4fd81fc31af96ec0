"""Every engine evaluates each patient exactly as ``batch.evaluate_patient`` does, in the order given."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_resist.batch import Evaluated, Failed, Options, Outcome
from fhir_resist.catalogue import default_path
from fhir_resist.errors import InputError
from fhir_resist.fhir.read.population import group_by_patient
from fhir_resist.reevaluation.dask_engine import DaskEngine, check_address
from fhir_resist.reevaluation.engines import Engine, InProcess, LocalPool, chunks, local_engine
from tests.reevaluation.conftest import PATIENTS, example_resources

OPTIONS = Options(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), repair_unicode=False)
CATALOGUE = str(default_path())


def _tasks() -> list[tuple[str, list[Mapping[str, Any]]]]:
    grouped = group_by_patient(example_resources()).patients
    tasks: list[tuple[str, list[Mapping[str, Any]]]] = [(p, list(r)) for p, r in sorted(grouped.items())]
    return [*tasks, ("Patient/bad id", [])]


def _outcomes(engine: Engine) -> list[Outcome]:
    try:
        return list(engine.evaluate(_tasks()))
    finally:
        engine.close()


@pytest.fixture(scope="module")
def expected() -> list[Outcome]:
    return _outcomes(InProcess(CATALOGUE, OPTIONS))


def test_in_process_evaluates_each_patient_and_fails_the_bad_one(expected: list[Outcome]) -> None:
    assert [o.patient for o in expected] == [*sorted(PATIENTS), "Patient/bad id"]
    assert all(isinstance(o, Evaluated) for o in expected[:-1])
    assert isinstance(expected[-1], Failed) and "not a FHIR id" in expected[-1].reason
    assert isinstance(local_engine(1, CATALOGUE, OPTIONS), InProcess)


def test_worker_processes_give_the_same_outcomes(expected: list[Outcome]) -> None:
    engine = local_engine(2, CATALOGUE, OPTIONS)
    assert isinstance(engine, LocalPool)
    assert _outcomes(engine) == expected


def test_a_dask_local_cluster_of_threads_gives_the_same_outcomes(expected: list[Outcome]) -> None:
    assert _outcomes(DaskEngine("local", 2, CATALOGUE, OPTIONS, processes=False)) == expected


def test_a_dask_local_cluster_of_processes_gives_the_same_outcomes(expected: list[Outcome]) -> None:
    engine = DaskEngine("local", 1, CATALOGUE, OPTIONS)
    assert engine.workers == 1
    assert _outcomes(engine) == expected


def test_chunks_are_small_and_keep_the_order() -> None:
    tasks = _tasks() * 20
    parts = chunks(tasks, 2)
    assert [t for part in parts for t in part] == tasks
    assert max(len(part) for part in parts) <= 8


@pytest.mark.parametrize("address", ["", "localhost:8786", "http://host:8786", "tcp://"])
def test_a_bad_scheduler_address_is_refused(address: str) -> None:
    with pytest.raises(InputError, match="not a Dask scheduler") as caught:
        check_address(address)
    assert caught.value.where == "scheduler"


def test_a_scheduler_that_does_not_answer_is_named() -> None:
    with pytest.raises(InputError, match=r"no Dask scheduler answers at tcp://127\.0\.0\.1:9"):
        DaskEngine("tcp://127.0.0.1:9", 1, CATALOGUE, OPTIONS, connect_timeout=1.0)


def test_a_worker_process_that_dies_fails_its_patients_and_the_next_partition_gets_a_new_pool(
    expected: list[Outcome],
) -> None:
    engine = LocalPool(2, CATALOGUE, OPTIONS)
    try:
        assert list(engine.evaluate(_tasks()[:1])) == expected[:1]
        assert engine._pool is not None
        for process in list(engine._pool._processes.values()):  # killed, as by the OOM killer
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)  # the pool reaps them and finds itself broken
        broken = list(engine.evaluate(_tasks()))
        assert [o.patient for o in broken] == [o.patient for o in expected]
        assert all(
            isinstance(o, Failed) and o.internal and "worker process stopped" in o.reason for o in broken
        )
        assert list(engine.evaluate(_tasks())) == expected
    finally:
        engine.close()


def _lost(tasks: list[Any], catalogue: str, options: Options) -> list[Outcome]:
    raise OSError("worker lost")


def test_a_dask_task_that_fails_fails_its_patients_only(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = DaskEngine("local", 1, CATALOGUE, OPTIONS, processes=False)
    monkeypatch.setattr("fhir_resist.reevaluation.dask_engine.evaluate_on_worker", _lost)
    outcomes = _outcomes(engine)
    assert [o.patient for o in outcomes] == [p for p, _ in _tasks()]
    assert all(
        isinstance(o, Failed) and "the Dask task failed (OSError: worker lost)" in o.reason for o in outcomes
    )
