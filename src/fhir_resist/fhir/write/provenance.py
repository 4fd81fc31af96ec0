"""Who wrote the output and from what: the Device, the Provenance and the inputs it names."""

from __future__ import annotations

from collections.abc import Iterable

from fhir_resist import terminology
from fhir_resist.engine.model import Assessment
from fhir_resist.fhir.write.elements import JSON, instant
from fhir_resist.fhir.write.narrative import device_text, provenance_text
from fhir_resist.version import VERSION


def device(device_id: str) -> JSON:
    """fhir_resist itself, at this version."""
    return {
        "resourceType": "Device",
        "text": device_text(VERSION),
        "identifier": [{"system": terminology.NS_DEVICE, "value": device_id}],
        "status": "active",
        "manufacturer": "fhir_resist",
        "deviceName": [{"name": "fhir_resist", "type": "manufacturer-name"}],
        "version": [{"value": VERSION}],
    }


def provenance(assessment: Assessment, provenance_id: str, targets: Iterable[str], device: str) -> JSON:
    """The Provenance of the ``targets`` (fullUrls): recorded by ``device`` from the assessment's sources."""
    named = sources(assessment)
    return {
        "resourceType": "Provenance",
        # R4 Provenance has no identifier: the tag carries ours, for conditional creates.
        "meta": {"tag": [{"system": terminology.NS_EVALUATION, "code": provenance_id}]},
        "text": provenance_text(assessment, len(named), VERSION),
        "target": [{"reference": u} for u in targets],
        "recorded": instant(assessment),
        "policy": [f"{terminology.PLAN}|{assessment.catalogue_version}"],
        "agent": [{"who": {"reference": device}}],
        "entity": [{"role": "source", "what": {"reference": ref}} for ref in named],
    }


def sources(assessment: Assessment) -> list[str]:
    """The inputs an output names as its sources, in input order.

    A report stands for its results: an Observation that came as a result of an input
    DiagnosticReport is named only when a finding rests on it (a 5,000-variant panel is one
    report, not 5,000 references). Every other input is named.
    """
    rested = {obs for finding in assessment.findings for obs in finding.observations}
    return [
        ref
        for ref in assessment.inputs
        if not ref.startswith("Observation/") or ref not in assessment.report_results or ref in rested
    ]
