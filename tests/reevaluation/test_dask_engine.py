"""The Dask engine sends the patients to the workers as data, outside the tasks, and keeps nothing
of a partition once its outcomes are read: the scheduler (in this process with a LocalCluster)
must not hold the population."""

from __future__ import annotations

import gc
import pickle as pickle_module
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from distributed.protocol import pickle

from fhir_resist.batch import Evaluated, Failed
from fhir_resist.reevaluation import dask_engine
from fhir_resist.reevaluation.dask_engine import DaskEngine
from fhir_resist.reevaluation.dask_plugin import own_process
from fhir_resist.reevaluation.engines import InProcess
from tests.reevaluation.conftest import PATIENTS
from tests.reevaluation.test_engines import CATALOGUE, OPTIONS, _tasks

dumps = cast(Callable[[Any], bytes], pickle.dumps)  # as distributed pickles what it sends (untyped)


@pytest.fixture(scope="module")
def engine() -> Iterator[DaskEngine]:
    engine = DaskEngine("local", 2, CATALOGUE, OPTIONS, processes=False)
    try:
        yield engine
    finally:
        engine.close()


def _scheduler_state(dask_scheduler: Any) -> dict[str, Any]:
    """What the scheduler keeps: its tasks, and the messages it logged on every connection."""
    streams = [*dask_scheduler.stream_comms.values(), *dask_scheduler.client_comms.values()]
    return {
        "tasks": len(dask_scheduler.tasks),
        "messages": [dumps(message) for stream in streams for message in stream.recent_message_log],
    }


def _sent(engine: DaskEngine) -> tuple[int, list[bytes]]:
    """The tasks the scheduler still holds once the releases sent to it have arrived (they travel
    in batches: waited for, up to a minute), and every message logged either side."""
    state = engine.client.run_on_scheduler(_scheduler_state)
    deadline = time.monotonic() + 60
    while state["tasks"] and time.monotonic() < deadline:
        time.sleep(0.05)
        state = engine.client.run_on_scheduler(_scheduler_state)
    client_log = engine.client.scheduler_comm.recent_message_log  # what the client sent to it
    return state["tasks"], [*state["messages"], *(dumps(message) for message in client_log)]


def test_no_patient_travels_inside_a_task_and_the_scheduler_keeps_nothing_after_a_run(
    engine: DaskEngine,
) -> None:
    tasks = _tasks() * 3
    outcomes = list(engine.evaluate(tasks))
    assert [o.patient for o in outcomes] == [p for p, _ in tasks]
    assert sum(isinstance(o, Evaluated) for o in outcomes) == 3 * len(PATIENTS)
    held, messages = _sent(engine)
    assert held == 0  # neither the patients' chunks nor their results are left on the cluster
    assert any(b"evaluate_on_worker" in m for m in messages)  # the log is read: the tasks are in it
    for patient in PATIENTS:
        identifier = patient.removeprefix("Patient/").encode()
        assert not [m for m in messages if identifier in m], f"{patient}'s record went through the scheduler"


def test_a_partition_that_cannot_be_scattered_fails_its_patients(
    engine: DaskEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("No valid workers found")

    monkeypatch.setattr(engine.client, "scatter", refused)
    outcomes = list(engine.evaluate(_tasks()))
    assert [o.patient for o in outcomes] == [p for p, _ in _tasks()]
    assert all(
        isinstance(o, Failed) and o.internal and "task failed (TimeoutError: No valid workers" in o.reason
        for o in outcomes
    )


def test_an_empty_partition_sends_nothing(engine: DaskEngine) -> None:
    assert list(engine.evaluate([])) == []


def test_a_chunk_reaches_the_workers_as_one_blob(engine: DaskEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker sizes what it holds: a blob at once, nested resources object by object (which cost
    it more than evaluating them)."""
    scattered: list[Any] = []
    scatter = engine.client.scatter

    def recording(data: list[Any], **kwargs: Any) -> Any:
        scattered.extend(data)
        return scatter(data, **kwargs)

    monkeypatch.setattr(engine.client, "scatter", recording)
    outcomes = list(engine.evaluate(_tasks()))
    assert [o.patient for o in outcomes] == [p for p, _ in _tasks()]
    assert scattered and all(isinstance(chunk, bytes) for chunk in scattered)


def test_worker_processes_collect_garbage_as_the_local_engine_s_do() -> None:
    engine = DaskEngine("local", 1, CATALOGUE, OPTIONS)
    try:
        thresholds = engine.client.run(gc.get_threshold)
    finally:
        engine.close()
    assert list(thresholds.values()) == [(50_000, 20, 20)]
    assert not own_process()  # a LocalCluster of threads leaves this process's collector alone


def test_a_chunk_whose_task_failed_is_sent_once_more(
    engine: DaskEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Scattered data dies with its worker (it has no lineage to recompute it from): the chunk is
    sent again, and its patients evaluated."""
    evaluate = dask_engine.evaluate_on_worker

    def lost_once(chunk: bytes, catalogue: str, options: Any) -> Any:
        tried = tmp_path / pickle_module.loads(chunk)[0][0].replace("/", "-")  # what the task sees
        if not tried.exists():
            tried.touch()
            raise OSError("worker lost")
        return evaluate(chunk, catalogue, options)

    monkeypatch.setattr(dask_engine, "evaluate_on_worker", lost_once)
    outcomes = list(engine.evaluate(_tasks()))
    assert outcomes == list(InProcess(CATALOGUE, OPTIONS).evaluate(_tasks()))
    assert len(list(tmp_path.iterdir())) == len(_tasks())  # a chunk a patient: each failed once
