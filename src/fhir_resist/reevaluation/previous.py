"""The last result written for a patient: a previous run's directory, or our resources on the server.

A directory holds one Bundle per patient, ``<id>.json``, as ``evaluate --all-patients --out-dir``
and ``reevaluate --out-dir`` write them. On a FHIR server, the patient's last result is what our
writes left in force: our GuidanceResponses (identifier system ``NS_EVALUATION``, as
``fhir/superseding.py`` finds them) tell whether the patient was ever evaluated, and our
DetectedIssues (identifier system ``NS_FINDING``) not withdrawn are its alerts, since every
delivery cancels those a later evaluation no longer raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fhir_resist import terminology
from fhir_resist.errors import InputError, JsonProblem
from fhir_resist.files import parse_json

if TYPE_CHECKING:
    from fhir_resist.fhir.client import FhirClient

JSON = dict[str, Any]


class Previous(Protocol):
    """Where earlier results are found."""

    def of(self, patient: str) -> list[Mapping[str, Any]] | None:
        """The resources of ``patient``'s last result (``Patient/id``), or None when there is none."""
        ...  # pragma: no cover - a protocol


class PreviousDirectory:
    """``<id>.json`` Bundles in a directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InputError("no such directory", where=str(directory))

    def of(self, patient: str) -> list[Mapping[str, Any]] | None:
        path = self.directory / f"{patient.removeprefix('Patient/')}.json"
        try:
            data = parse_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, JsonProblem) as exc:
            raise InputError(f"the previous result cannot be read ({exc})", where=str(path)) from None
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            raise InputError("the previous result is not a FHIR Bundle", where=str(path))
        return [data]


class PreviousOnServer:
    """Our GuidanceResponses and DetectedIssues of the patient on a FHIR server."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client

    def of(self, patient: str) -> list[Mapping[str, Any]] | None:
        """Raises ``ServerError`` when the server cannot be searched."""
        from fhir_resist.fhir.superseding import on_server

        if not on_server(self.client, patient):
            return None
        issues = self.client.search(
            "DetectedIssue", [("patient", patient), ("identifier", f"{terminology.NS_FINDING}|")]
        )
        return [r for r in issues if (r.get("patient") or {}).get("reference") == patient]
