"""A population's resources spilled to partition files on disk, then grouped one partition at a time.

Each NDJSON line is routed to its patient as ``fhir/read/population.py`` routes a resource: a
Patient by its id, a resource by its ``subject`` / ``patient`` reference, a Bundle to every
patient its entries name. Its bytes go, unchanged, to the partition file chosen by a hash of the
patient's id (CRC-32: the same partition in every process and every run), so that every resource
of a patient lands in one partition whichever files and in whatever order they came.

A resource that names no patient and that the reader reads (a Medication, a result listed only
by a DiagnosticReport, a member of a grouping Observation) is set aside with its reference; once
every file is read, the partitions are scanned for references to these, and each goes to every
partition that refers to it, directly or through another such resource. What is held in memory
across the whole input is these unowned resources' references only, never the population's
resources. Other resources that name no patient (the laboratory's Organization, a
Practitioner) are nobody's, as ``group_by_patient`` leaves them outside a Bundle.

Grouping then reads one partition (``group_by_patient``, the very rules of ``evaluate
--all-patients``), so peak memory is bounded by the largest partition. The number of partitions
follows the input's size (``TARGET_BYTES`` of NDJSON each, at least 1, at most ``MAX_PARTITIONS``).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fhir_resist.domain import Message, Severity
from fhir_resist.errors import JsonProblem
from fhir_resist.fhir.read.collection import normalise_reference
from fhir_resist.fhir.read.elements import JSON
from fhir_resist.fhir.read.population import ABOUT_A_PATIENT, Grouped, group_by_patient, references
from fhir_resist.files import parse_json
from fhir_resist.reevaluation.sources import Source, lines

TARGET_BYTES = 8 * 1024 * 1024  # parsed, about ten times as much memory
MAX_PARTITIONS = 1024
_BUFFER_BYTES = 8 * 1024 * 1024
# What naming no patient is still read, for the patients whose resources refer to it.
READ_UNOWNED = ABOUT_A_PATIENT | {"Medication"}  # written to disk once the buffered lines pass this, in total


def partition_count(total_bytes: int) -> int:
    """Partitions for an input of ``total_bytes``: about ``TARGET_BYTES`` each."""
    return max(1, min(MAX_PARTITIONS, -(-total_bytes // TARGET_BYTES)))


def partition_of(patient_id: str, partitions: int) -> int:
    return zlib.crc32(patient_id.encode("utf-8")) % partitions


@dataclass
class Spilled:
    """The partition files of one input, what was read, and the lines that could not be."""

    directory: Path
    partitions: int
    resources: int = 0
    observations: int = 0
    patients_named: int = 0  # Patient resources read: the population's size when the export has them
    problems: list[Message] = field(default_factory=list)

    def path(self, index: int) -> Path:
        return self.directory / f"part-{index:05d}.ndjson"

    @property
    def unowned_path(self) -> Path:
        return self.directory / "unowned.ndjson"


class _Writer:
    """Lines buffered per partition, appended to their files in large writes."""

    def __init__(self, spilled: Spilled) -> None:
        self.spilled = spilled
        self.buffers: dict[int, list[bytes]] = {}
        self.buffered = 0

    def add(self, index: int, line: bytes) -> None:
        self.buffers.setdefault(index, []).append(line)
        self.buffered += len(line) + 1
        if self.buffered >= _BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        for index, buffered in self.buffers.items():
            with self.spilled.path(index).open("ab") as out:
                out.write(b"\n".join(buffered) + b"\n")
        self.buffers.clear()
        self.buffered = 0


def spill(inputs: Iterable[Source], directory: Path, partitions: int) -> Spilled:
    """Every line of ``inputs`` written to its patient's partition under ``directory``; a line that
    is not a FHIR resource is a problem naming its file and line, and the others go on."""
    spilled = Spilled(directory, partitions)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for index in range(partitions):
        _private(spilled.path(index)).close()
    writer = _Writer(spilled)
    unowned: dict[str, list[str]] = {}  # reference of a resource naming no patient -> its references
    with _private(spilled.unowned_path) as aside:
        for source in inputs:
            for number, line in lines(source):
                resource = _resource(line, f"{source.name}:{number}", spilled)
                if resource is None:
                    continue
                owners = owners_of(resource)
                for owner in owners:
                    writer.add(partition_of(owner, partitions), line)
                if not owners:
                    _set_aside(resource, line, f"{source.name}:{number}", aside, unowned, spilled)
    writer.flush()
    if unowned:
        _place_unowned(spilled, unowned)
    return spilled


def _private(path: Path) -> BinaryIO:
    """A new, empty file only its owner may read: partitions hold patients' records."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _resource(line: bytes, where: str, spilled: Spilled) -> JSON | None:
    try:
        data = parse_json(line)
    except JsonProblem as exc:
        spilled.problems.append(Message(Severity.ERROR, where, f"{exc}; line skipped"))
        return None
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        spilled.problems.append(
            Message(Severity.ERROR, where, "not a FHIR resource (no resourceType); line skipped")
        )
        return None
    spilled.resources += 1
    spilled.observations += data["resourceType"] == "Observation"
    spilled.patients_named += data["resourceType"] == "Patient"
    return data


def owners_of(resource: JSON) -> set[str]:
    """The ids of the patients a resource names itself (a Bundle: its entries')."""
    rtype = resource.get("resourceType")
    if rtype == "Patient":
        rid = resource.get("id")
        return {rid} if isinstance(rid, str) and rid else set()
    if rtype == "Bundle":
        entries = resource.get("entry")
        return {
            owner
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)
            for owner in owners_of(entry["resource"])
        }
    target = resource.get("subject") or resource.get("patient")
    ref = target.get("reference") if isinstance(target, dict) else None
    if isinstance(ref, str):
        normal = normalise_reference(ref, {})
        if normal.startswith("Patient/") and len(normal) > len("Patient/"):
            return {normal.removeprefix("Patient/")}
    return set()


def _set_aside(
    resource: JSON, line: bytes, where: str, aside: BinaryIO, unowned: dict[str, list[str]], spilled: Spilled
) -> None:
    if resource["resourceType"] not in READ_UNOWNED:
        return  # the laboratory's Organization, a Practitioner: not read, nobody's (as population.py)
    rid = resource.get("id")
    if not isinstance(rid, str) or not rid:
        if resource["resourceType"] in ABOUT_A_PATIENT:
            spilled.problems.append(
                Message(
                    Severity.ERROR,
                    where,
                    "names no patient and has no id, so nothing can refer to it: not evaluated",
                )
            )
        return
    ref = f"{resource['resourceType']}/{rid}"
    unowned[ref] = [normalise_reference(r, {}) for r in references(resource)]
    aside.write(line + b"\n")


def _place_unowned(spilled: Spilled, unowned: dict[str, list[str]]) -> None:
    """Each set-aside resource appended to every partition whose resources refer to it, directly
    or through other set-aside resources; one about a patient that nobody refers to is a problem."""
    targets: dict[str, set[int]] = {}
    for index in range(spilled.partitions):
        with spilled.path(index).open("rb") as part:
            for line in part:
                for ref in references(parse_json(line)):
                    normal = normalise_reference(ref, {})
                    if normal in unowned:
                        targets.setdefault(normal, set()).add(index)
    pending = list(targets)
    while pending:
        ref = pending.pop()
        for target in unowned[ref]:
            if target in unowned and not targets[ref] <= targets.setdefault(target, set()):
                targets[target] |= targets[ref]
                pending.append(target)
    writer = _Writer(spilled)
    with spilled.unowned_path.open("rb") as aside:
        for line in aside:
            resource = parse_json(line)
            ref = f"{resource['resourceType']}/{resource['id']}"
            for index in sorted(targets.get(ref, ())):
                writer.add(index, line.rstrip(b"\n"))
            if not targets.get(ref) and resource["resourceType"] in ABOUT_A_PATIENT:
                spilled.problems.append(
                    Message(
                        Severity.ERROR,
                        ref,
                        "names no patient, and no resource of the input refers to it: not evaluated",
                    )
                )
    writer.flush()


def groups(spilled: Spilled) -> Iterator[Grouped]:
    """Each partition's patients, grouped as ``evaluate --all-patients`` groups them."""
    for index in range(spilled.partitions):
        with spilled.path(index).open("rb") as part:
            resources = [parse_json(line) for line in part if line.strip()]
        if resources:
            yield group_by_patient(resources)
