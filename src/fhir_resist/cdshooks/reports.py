"""``POST /reports``: a genomic report arrives; evaluate it and write the results back.

Accepted bodies:
- a Bundle holding the report (any type but ``history``): its resources, completed with the
  patient's record from the FHIR server (conditions, medications, earlier reports) — the
  posted resources win over the server's copies of the same ``Type/id``;
- a FHIR Subscription rest-hook notification (a ``history`` Bundle, R4 backport / R4B / R5
  shape, ``id-only`` or ``full-resource``) or a bare DiagnosticReport: the report is read
  from the FHIR server, then the patient's record;
Each patient is evaluated on their own and delivered through the outbox path: written once
(idempotent) or kept. A body naming more than ``max_patients`` patients (or notifying more
reports) is refused 413 before anything is fetched; ``should_stop`` is asked before each
patient, so work stops between patients when the service stops (``Abandoned``: the results
of the patients before are delivered or kept, the others were not evaluated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir_resist.catalogue import Catalogue
from fhir_resist.engine.assess import assess
from fhir_resist.engine.model import Status
from fhir_resist.errors import Abandoned, HttpError, ServerError
from fhir_resist.fhir.client import FhirClient, unique
from fhir_resist.fhir.delivery import Delivery, deliver, scope_of
from fhir_resist.fhir.outbox import Outbox
from fhir_resist.fhir.read import iter_resources, read_context
from fhir_resist.fhir.write import WriteStrategy, to_bundle

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReportResult:
    patient: str | None
    status: Status  # the GuidanceResponse status: success, data-required or failure
    issues: int
    delivery: Delivery

    def as_json(self) -> JSON:
        return {
            "patient": self.patient,
            "status": self.status.value,
            "issues": self.issues,
            "delivery": self.delivery.as_json(),
        }


def handle(
    body: Any,
    catalogue: Catalogue,
    client: FhirClient,
    outbox: Outbox,
    *,
    strategy: WriteStrategy = "put",
    at: datetime | None = None,
    max_patients: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[ReportResult]:
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise HttpError(400, "the body is not a FHIR resource")
    posted, report_refs = _posted(body)
    _at_most(len(report_refs), max_patients, "DiagnosticReports (each names a patient)")
    if report_refs:
        posted += [_read(client, ref) for ref in report_refs]
    patients = _patients(posted)
    if not patients:
        raise HttpError(
            400, "the posted report names no patient (DiagnosticReport.subject)", expression="subject"
        )
    _at_most(len(patients), max_patients, "patients")
    results = []
    for done, patient in enumerate(patients):
        if should_stop():
            raise Abandoned(f"{len(patients) - done} of {len(patients)} patients not evaluated")
        record = _record(client, patient)
        resources = unique([*posted, *record])
        context = read_context(resources, patient=patient, rules=catalogue.reading)
        assessment = assess(context, catalogue, at or datetime.now(UTC))
        bundle = to_bundle(assessment, strategy=strategy)
        delivery = deliver(client, bundle, scope_of(assessment), outbox)
        results.append(ReportResult(assessment.patient, assessment.status, len(assessment.issues), delivery))
    return results


def _at_most(count: int, limit: int | None, what: str) -> None:
    if limit is not None and count > limit:
        raise HttpError(
            413,
            f"the body names {count} {what}; at most {limit} may be posted at once "
            "(FHIR_RESIST_REPORT_PATIENTS): post them in several bodies",
        )


def _posted(body: Mapping[str, Any]) -> tuple[list[JSON], list[str]]:
    """Resources carried by the body, and DiagnosticReport references to read from the server."""
    rtype = body.get("resourceType")
    if rtype == "Bundle" and body.get("type") == "history":
        refs: list[str] = []
        resources: list[JSON] = []
        for entry in body.get("entry") or []:
            if not isinstance(entry, dict):
                continue
            resource = entry.get("resource")
            full_url = entry.get("fullUrl")
            if isinstance(resource, dict) and resource.get("resourceType") in (
                "SubscriptionStatus",
                "Parameters",
            ):
                continue
            ref = _relative(full_url) if isinstance(full_url, str) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "DiagnosticReport":
                ref = f"DiagnosticReport/{resource.get('id')}"
            if ref and ref.startswith("DiagnosticReport/"):
                refs.append(ref)
        if not refs:
            raise HttpError(
                400, "the notification names no DiagnosticReport", expression="Bundle.entry.fullUrl"
            )
        return resources, list(dict.fromkeys(refs))
    if rtype == "DiagnosticReport" and not body.get("result"):
        return [], [f"DiagnosticReport/{body.get('id')}"]
    resources = [dict(r) for r in iter_resources([body])]
    if not resources:
        raise HttpError(400, "the posted Bundle holds no resources", expression="Bundle.entry")
    return resources, []


def _relative(url: str) -> str | None:
    parts = url.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:]) if len(parts) >= 2 else None


def _read(client: FhirClient, ref: str) -> JSON:
    rtype, _, rid = ref.partition("/")
    try:
        return client.read(rtype, rid)
    except ServerError as exc:
        if exc.retryable:
            raise
        raise HttpError(422, f"{ref} could not be read from the FHIR server: {exc}") from exc


def _patients(resources: list[JSON]) -> list[str]:
    found: list[str] = []
    for resource in resources:
        if resource.get("resourceType") == "Patient" and isinstance(resource.get("id"), str):
            found.append(str(resource["id"]))
        subject = resource.get("subject")
        if resource.get("resourceType") == "DiagnosticReport" and isinstance(subject, dict):
            reference = subject.get("reference")
            if isinstance(reference, str) and reference.startswith("Patient/"):
                found.append(reference.removeprefix("Patient/"))
    return list(dict.fromkeys(found))


def _record(client: FhirClient, patient: str) -> list[JSON]:
    try:
        return client.patient_resources(patient)
    except ServerError as exc:
        if exc.retryable:
            raise
        if exc.status == 404:
            return []  # the patient is only in the posted bundle: evaluate what was posted
        raise
