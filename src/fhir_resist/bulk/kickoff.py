"""What an export asks the server for, and the kick-off request that starts it.

The resource types are those fhir_resist reads (``fhir/read``): the patient, the genomic
Observations and their reports, Specimens, Conditions and the therapies (with the Medications
they reference). Medication is in no patient compartment: a group or patient export cannot
carry it (HAPI refuses it with HAPI-0512), so only a system export asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urljoin

from fhir_resist.errors import InputError, ServerError
from fhir_resist.fhir.addresses import is_fhir_id
from fhir_resist.fhir.client import FhirClient
from fhir_resist.fhir.read.clinical import THERAPY_TYPES

Level = Literal["system", "group", "patient"]

# What the reader reads (fhir/read/population.ABOUT_A_PATIENT, with the Patient and the Medications
# therapies name), in a stable order for the request.
READ_TYPES = (
    "Patient",
    "Observation",
    "DiagnosticReport",
    "Specimen",
    "Condition",
    *THERAPY_TYPES,
    "Medication",
)
NOT_IN_PATIENT_COMPARTMENT = frozenset({"Medication"})
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """One export: the level (``group`` names its Group id), the types, filters and ``_since``."""

    level: Level
    types: tuple[str, ...]
    group: str | None = None
    type_filters: tuple[str, ...] = ()
    since: str | None = None

    @property
    def path(self) -> str:
        """The kick-off endpoint, relative to the server's base."""
        if self.level == "group":
            return f"Group/{self.group}/$export"
        return "Patient/$export" if self.level == "patient" else "$export"

    def params(self) -> list[tuple[str, str]]:
        """``_type`` as one comma-separated value (HAPI takes a single ``_type``), each filter apart."""
        params = [("_type", ",".join(self.types))]
        params.extend(("_typeFilter", f) for f in self.type_filters)
        if self.since:
            params.append(("_since", self.since))
        return params

    def as_json(self) -> dict[str, object]:
        return {
            "level": self.level,
            "group": self.group,
            "types": list(self.types),
            "typeFilters": list(self.type_filters),
            "since": self.since,
        }


def export_request(
    level: Level,
    *,
    group: str | None = None,
    types: tuple[str, ...] = (),
    type_filters: tuple[str, ...] = (),
    since: str | None = None,
) -> ExportRequest:
    """A checked request: every fault is an ``InputError`` naming the option at fault."""
    if (level == "group") != (group is not None):
        raise InputError("a group export names exactly one Group id", where="--group")
    if group is not None and not is_fhir_id(group):
        raise InputError(f"'{group}' is not a FHIR id", where="--group")
    patient_level = level != "system"
    chosen = tuple(dict.fromkeys(types)) or tuple(
        t for t in READ_TYPES if not (patient_level and t in NOT_IN_PATIENT_COMPARTMENT)
    )
    for rtype in chosen:
        if rtype not in READ_TYPES:
            raise InputError(
                f"'{rtype}' is not read by fhir-resist ({', '.join(READ_TYPES)})", where="--type"
            )
        if patient_level and rtype in NOT_IN_PATIENT_COMPARTMENT:
            raise InputError(
                f"{rtype} is in no patient compartment: only a system export (without --group or "
                "--patients) can carry it",
                where="--type",
            )
    for query in type_filters:
        rtype, mark, criteria = query.partition("?")
        if not mark or not criteria or rtype not in chosen:
            raise InputError(
                f"'{query}' is not TYPE?criteria with TYPE one of the exported types", where="--type-filter"
            )
    if since is not None:
        _check_instant(since)
    return ExportRequest(level, chosen, group, tuple(type_filters), since)


def _check_instant(value: str) -> None:
    valid = _INSTANT.fullmatch(value) is not None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        valid = False
    if not valid:
        raise InputError(
            f"'{value}' is not a FHIR instant (such as 2026-01-31T00:00:00Z, with its time zone)",
            where="--since",
        )


def kick_off(client: FhirClient, request: ExportRequest) -> str:
    """Start the export; the absolute status URL the server named in ``Content-Location``."""
    what = f"bulk export kick-off ({request.path})"
    try:
        response = client.request(
            "GET", request.path, params=request.params(), headers={"Prefer": "respond-async"}
        )
    except ServerError as exc:
        raise prefixed(what, exc) from exc
    location = response.headers.get("Content-Location")
    if response.status_code != 202 or not location:
        raise ServerError(
            f"{what}: the server answered {response.status_code} without a status URL "
            "(expected 202 Accepted with Content-Location); it may not support asynchronous $export",
            status=response.status_code,
            retryable=False,
        )
    return urljoin(client.base, location)


def prefixed(what: str, exc: ServerError) -> ServerError:
    """The same error, its message starting with the step of the export that met it."""
    error = ServerError(f"{what}: {exc}", status=exc.status, retryable=exc.retryable, outcome=exc.outcome)
    error.attempts = exc.attempts
    return error
