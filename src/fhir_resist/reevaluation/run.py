"""A population re-evaluated, partition by partition: group, select, evaluate, compare, keep.

``reevaluate`` spills the NDJSON input to partitions (``partitions.py``) and then, for one
partition at a time (the next one prepared while the engine's workers evaluate this one): the
patients grouped; each one's last result looked up (``previous.py``); with a catalogue change,
only the patients it touches kept (``affected.py``); the rest evaluated by the engine; each new
result compared with the last (``changes.py``), written to ``out_dir`` and, when it changed,
written back (``writeback.py``); the partition's rows yielded. A patient that fails (bad input,
an unreadable previous result, a server that cannot be searched) is a row with the reason, and
the run goes on.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fhir_resist.batch import Evaluated, Failed, Outcome
from fhir_resist.errors import FhirResistError
from fhir_resist.reevaluation import alerts, changes
from fhir_resist.reevaluation.affected import CatalogueChange, affected_by, patient_reach
from fhir_resist.reevaluation.partitions import groups, partition_count, spill
from fhir_resist.reevaluation.report import Row
from fhir_resist.reevaluation.sources import Source

if TYPE_CHECKING:
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.domain import Message
    from fhir_resist.reevaluation.engines import Engine, Task
    from fhir_resist.reevaluation.previous import Previous
    from fhir_resist.reevaluation.writeback import WriteBack

JSON = dict[str, Any]


@dataclass(frozen=True)
class Selection:
    """A catalogue change, and the catalogue the patients are read with to find who it touches."""

    change: CatalogueChange
    catalogue: Catalogue


@dataclass
class Plan:
    """What a run does besides evaluating: where earlier results are, which patients to keep,
    where results go."""

    previous: Previous | None = None
    selection: Selection | None = None
    out_dir: Path | None = None
    write: WriteBack | None = None
    partitions: int | None = None  # default: by the input's size
    on_unsaved: Callable[[Evaluated], None] | None = None  # a result neither sent nor in the outbox


@dataclass
class Run:
    problems: list[Message]
    patients_expected: int  # Patient resources in the input (the progress bar's total)
    rows: Iterator[list[Row]]


def reevaluate(inputs: Sequence[Source], engine: Engine, plan: Plan, work: Path | None = None) -> Run:
    """Spill ``inputs`` now, under ``work`` (default: a temporary directory, removed when the rows
    are exhausted); the rows come one partition at a time as ``Run.rows`` is iterated."""
    owned = tempfile.TemporaryDirectory(prefix="fhir-resist-reevaluate-") if work is None else None
    directory = Path(owned.name) if owned is not None else work
    assert directory is not None
    count = plan.partitions or partition_count(sum(s.size for s in inputs))
    spilled = spill(inputs, directory, count)
    problems = list(spilled.problems)

    def rows() -> Iterator[list[Row]]:
        """One partition evaluated while the next is grouped and selected: two partitions in
        memory at most."""
        try:
            waiting: tuple[_Prepared, Iterator[Outcome]] | None = None
            for grouped in groups(spilled):
                problems.extend(grouped.unattributed)
                prepared = _prepare(grouped.patients, plan)
                submitted = engine.evaluate(prepared.tasks)
                if waiting is not None:
                    yield _finish(*waiting, plan)
                waiting = (prepared, submitted)
            if waiting is not None:
                yield _finish(*waiting, plan)
        finally:
            if owned is not None:
                owned.cleanup()

    return Run(problems, spilled.patients_named, rows())


@dataclass
class _Prepared:
    """A partition's patients before evaluation: rows of those not evaluated, the others' tasks,
    their last alerts and the changed rules that touch them."""

    rows: dict[str, Row]
    tasks: list[Task]
    before: dict[str, Mapping[alerts.AlertKey, alerts.Alert] | None]
    touched: dict[str, str]


def _prepare(patients: Mapping[str, list[Mapping[str, Any]]], plan: Plan) -> _Prepared:
    """Each patient's last result looked up and, with a catalogue change, the patient selected."""
    prepared = _Prepared({}, [], {}, {})
    for patient, resources in patients.items():
        observations = _observations(resources)
        try:
            earlier = plan.previous.of(patient) if plan.previous is not None else None
            if plan.selection is not None:
                rules = _touching(patient, resources, earlier, plan.selection)
                if not rules:
                    prepared.rows[patient] = Row(patient, "not-affected", observations=observations)
                    continue
                prepared.touched[patient] = " ".join(rules)
        except FhirResistError as exc:
            prepared.rows[patient] = Row(patient, "failed", observations=observations, error=str(exc))
            continue
        except Exception as exc:  # a defect met on this patient's record; the others go on
            reason = f"internal error ({type(exc).__name__}: {exc}); please report it"
            prepared.rows[patient] = Row(patient, "failed", observations=observations, error=reason)
            continue
        prepared.before[patient] = alerts.alerts_of(earlier) if earlier is not None else None
        prepared.tasks.append((patient, resources))
    return prepared


def _finish(prepared: _Prepared, submitted: Iterator[Outcome], plan: Plan) -> list[Row]:
    """The partition's outcomes compared, kept and written; its rows, sorted by patient."""
    outcomes = list(submitted)
    results = [o for o in outcomes if isinstance(o, Evaluated)]
    before = prepared.before
    compared = {r.patient: changes.compare(before[r.patient], alerts.alerts_of([r.bundle])) for r in results}
    written = _written(results, compared, plan)
    rows = prepared.rows
    for (patient, record), outcome in zip(prepared.tasks, outcomes, strict=True):
        rows[patient] = _row(outcome, _observations(record), compared, prepared.touched, written)
        if plan.out_dir is not None and isinstance(outcome, Evaluated):
            _keep(plan.out_dir, outcome)
    return [rows[patient] for patient in sorted(rows)]


def _touching(
    patient: str,
    resources: Sequence[Mapping[str, Any]],
    earlier: list[Mapping[str, Any]] | None,
    selection: Selection,
) -> tuple[str, ...]:
    reach = patient_reach(patient, resources, selection.catalogue)
    cited = alerts.cited_rules(earlier) if earlier is not None else set()
    return affected_by(reach, selection.change, selection.catalogue, cited)


def _written(results: list[Evaluated], compared: Mapping[str, changes.Change], plan: Plan) -> dict[str, str]:
    """The results that changed, written back; what became of each."""
    if plan.write is None:
        return {}
    send = [r for r in results if compared[r.patient].status != "unchanged"]
    out: dict[str, str] = {}
    for result, delivery in zip(send, plan.write.deliver(send), strict=True):
        out[result.patient] = delivery.outcome
        if delivery.outcome == "unsaved" and plan.on_unsaved is not None and plan.out_dir is None:
            plan.on_unsaved(result)
    return out


def _row(
    outcome: Outcome,
    observations: int,
    compared: Mapping[str, changes.Change],
    touched: Mapping[str, str],
    written: Mapping[str, str],
) -> Row:
    patient = outcome.patient
    if isinstance(outcome, Failed):
        return Row(
            patient, "failed", observations=observations, rules=touched.get(patient, ""), error=outcome.reason
        )
    change = compared[patient]
    return Row(
        patient,
        "evaluated",
        change=change.status,
        observations=observations,
        alerts=change.alerts,
        new=len(change.new),
        withdrawn=len(change.withdrawn),
        severity_changed=len(change.severity_changed),
        countermeasures_changed=len(change.countermeasures_changed),
        unchanged=len(change.unchanged),
        changes=change.described(),
        rules=touched.get(patient, ""),
        written=written.get(patient, ""),
    )


def _observations(resources: Sequence[Mapping[str, Any]]) -> int:
    return sum(1 for r in alerts.resources_of(resources) if r.get("resourceType") == "Observation")


def _keep(out_dir: Path, result: Evaluated) -> None:
    """``<id>.json`` as ``evaluate --out-dir`` writes it: whole or not at all (a temporary file
    renamed over it)."""
    path = out_dir / f"{result.patient.removeprefix('Patient/')}.json"
    handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(result.bundle, indent=2) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
