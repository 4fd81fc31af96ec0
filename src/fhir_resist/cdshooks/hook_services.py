"""The three CDS Hooks services this product offers, as discovery describes them.

Each names its hook, title and description; all share the prefetch templates (the same
queries the FHIR client runs when a key is missing) and the usage requirements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fhir_resist.errors import HttpError
from fhir_resist.fhir.client import PATIENT_QUERIES

JSON = dict[str, Any]
HookName = Literal["patient-view", "order-select", "order-sign"]

# Prefetch templates: the same queries the FHIR client runs when a key is missing.
_KEYS = {
    "Condition": "conditions",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "MedicationAdministration": "medicationAdministrations",
    "DiagnosticReport": "reports",
    "Observation": "genomicObservations",
}
PREFETCH: dict[str, str] = {"patient": "Patient/{{context.patientId}}"} | {
    _KEYS[rtype]: f"{rtype}?" + "&".join(f"{k}={v.format(pid='{{context.patientId}}')}" for k, v in params)
    for rtype, params in PATIENT_QUERIES
}

USAGE = (
    "Needs the patient's genomic results (Genomics Reporting Observations or DiagnosticReports), "
    "cancer Conditions and medications, by prefetch or readable at fhirServer. Cards speak only "
    "for what the fhir_resist resistance catalogue supports."
)


@dataclass(frozen=True, slots=True)
class HookService:
    id: str
    hook: HookName
    title: str
    description: str

    def discovery(self) -> JSON:
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(PREFETCH),
            "usageRequirements": USAGE,
        }


SERVICES: tuple[HookService, ...] = (
    HookService(
        "fhir-resist-patient-view",
        "patient-view",
        "Targeted-therapy resistance",
        "When the chart opens: resistance findings against the patient's targeted therapies, what the "
        "genomic results imply for drugs not yet given, and the tests that would change the answer.",
    ),
    HookService(
        "fhir-resist-order-select",
        "order-select",
        "Targeted-therapy resistance for the selected order",
        "When a targeted drug is selected: whether the patient's tumour genomics predict it will fail, "
        "with the evidence and alternatives to order instead.",
    ),
    HookService(
        "fhir-resist-order-sign",
        "order-sign",
        "Targeted-therapy resistance before signing",
        "Before draft orders are signed: resistance findings against any targeted drug among them, "
        "with alternatives.",
    ),
)
BY_ID = {s.id: s for s in SERVICES}


def service_named(service_id: str) -> HookService:
    """The service with that id, or a 404."""
    service = BY_ID.get(service_id)
    if service is None:
        raise HttpError(404, f"no service {service_id!r}")
    return service
