"""Grouping on disk: every resource reaches its patient whatever file and order it came in, and
each partition holds only its own patients."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fhir_resist.fhir.read.population import group_by_patient
from fhir_resist.reevaluation.partitions import groups, owners_of, partition_count, partition_of, spill
from fhir_resist.reevaluation.sources import sources
from tests.reevaluation.conftest import JSON, PATIENTS, example_resources, shuffled_export, write_lines


def _grouped(export: Path, work: Path, partitions: int) -> dict[str, list[Mapping[str, Any]]]:
    spilled = spill(sources([str(export)]), work, partitions)
    assert spilled.problems == []
    found: dict[str, list[Mapping[str, Any]]] = {}
    for grouped in groups(spilled):
        assert not set(found) & set(grouped.patients)  # a patient is in one partition only
        found.update(grouped.patients)
    return found


def _key(resources: list[Mapping[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in resources)


@pytest.mark.parametrize("partitions", [1, 3, 7])
def test_patients_split_across_files_in_any_order_are_grouped_whole(tmp_path: Path, partitions: int) -> None:
    resources = example_resources()
    export = shuffled_export(tmp_path / "export", resources, files=3)
    found = _grouped(export, tmp_path / "work", partitions)
    expected = group_by_patient(resources).patients
    assert sorted(found) == sorted(PATIENTS)
    assert {p: _key(r) for p, r in found.items()} == {p: _key(r) for p, r in expected.items()}


def test_each_partition_holds_only_the_patients_hashed_to_it(tmp_path: Path) -> None:
    resources = example_resources()
    export = shuffled_export(tmp_path / "export", resources)
    spilled = spill(sources([str(export)]), tmp_path / "work", 3)
    sizes = []
    for index in range(3):
        lines = [json.loads(line) for line in spilled.path(index).read_text(encoding="utf-8").splitlines()]
        owners = {r["id"] for r in lines if r["resourceType"] == "Patient"}
        assert all(partition_of(owner, 3) == index for owner in owners)
        sizes.append(len(lines))
    assert max(sizes) < len(resources)  # no partition holds the population
    named = [r for r in resources if owners_of(r)]
    assert sum(sizes) == len(named) < len(resources)  # the laboratory and the oncologist are nobody's
    assert spilled.resources == len(resources) and spilled.patients_named == 4
    assert spilled.observations == sum(r["resourceType"] == "Observation" for r in resources)


def test_the_partition_count_follows_the_input_size() -> None:
    assert partition_count(0) == 1
    assert partition_count(8 * 1024 * 1024 + 1) == 2
    assert partition_count(10**15) == 1024


def _report_with_unowned_results() -> list[JSON]:
    """A report whose result names no patient, a grouping Observation's member that names none,
    and a MedicationRequest whose Medication names none: each reaches the patient only through
    another resource."""
    subject = {"reference": "Patient/p1"}
    return [
        {"resourceType": "Patient", "id": "p1"},
        {"resourceType": "Patient", "id": "p2"},
        {"resourceType": "DiagnosticReport", "id": "r1", "subject": subject,
         "result": [{"reference": "Observation/o1"}]},
        {"resourceType": "Observation", "id": "o1", "hasMember": [{"reference": "Observation/o2"}]},
        {"resourceType": "Observation", "id": "o2", "status": "final"},
        {"resourceType": "Medication", "id": "m1"},
        {"resourceType": "MedicationRequest", "id": "mr", "subject": {"reference": "Patient/p2"},
         "medicationReference": {"reference": "Medication/m1"}},
        {"resourceType": "Observation", "id": "stray"},
    ]  # fmt: skip


@pytest.mark.parametrize("partitions", [1, 5])
def test_resources_that_reach_the_patient_through_another_follow_it(tmp_path: Path, partitions: int) -> None:
    resources = _report_with_unowned_results()
    export = tmp_path / "export"
    export.mkdir()
    write_lines(export / "a.ndjson", resources[4:])  # the results before their report
    write_lines(export / "b.ndjson", resources[:4])
    spilled = spill(sources([str(export)]), tmp_path / "work", partitions)
    found: dict[str, list[str]] = {}
    for grouped in groups(spilled):
        found.update(
            {p: sorted(f"{r['resourceType']}/{r['id']}" for r in rs) for p, rs in grouped.patients.items()}
        )
    assert found == {
        "Patient/p1": ["DiagnosticReport/r1", "Observation/o1", "Observation/o2", "Patient/p1"],
        "Patient/p2": ["Medication/m1", "MedicationRequest/mr", "Patient/p2"],
    }
    assert [(m.where, m.text) for m in spilled.problems] == [
        ("Observation/stray", "names no patient, and no resource of the input refers to it: not evaluated")
    ]


def test_a_bad_line_is_named_by_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "Patient.ndjson").write_text(
        '{"resourceType":"Patient","id":"p1"}\n{"resourceType": \n[1]\n{"resourceType":"Patient","id":"p2"}\n'
        '{"resourceType":"Observation","status":"final"}\n',
        encoding="utf-8",
    )
    spilled = spill(sources([str(export)]), tmp_path / "work", 2)
    assert [m.where for m in spilled.problems] == [
        f"{export}/Patient.ndjson:2",
        f"{export}/Patient.ndjson:3",
        f"{export}/Patient.ndjson:5",
    ]
    assert "not valid JSON" in spilled.problems[0].text
    assert "no resourceType" in spilled.problems[1].text
    assert "has no id" in spilled.problems[2].text
    assert sorted(p for g in groups(spilled) for p in g.patients) == ["Patient/p1", "Patient/p2"]


def test_small_buffers_give_the_same_partitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = shuffled_export(tmp_path / "export", example_resources())
    expected = _grouped(export, tmp_path / "large", 3)
    monkeypatch.setattr("fhir_resist.reevaluation.partitions._BUFFER_BYTES", 1000)
    assert _grouped(export, tmp_path / "small", 3) == expected
