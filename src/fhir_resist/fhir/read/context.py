"""One patient's context from the collected input: which patient, which resources count, and
each resource handed to the reader for its kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from fhir_resist.domain import (
    Alteration,
    Call,
    GenomicReport,
    LabImplication,
    PatientContext,
    Severity,
    Specimen,
    Therapy,
    Tumour,
)
from fhir_resist.fhir.read.biomarkers import read_implication, read_msi, read_tmb
from fhir_resist.fhir.read.clinical import (
    THERAPY_TYPES,
    read_condition,
    read_report,
    read_specimen,
    read_therapy,
)
from fhir_resist.fhir.read.collection import Collected, Notes
from fhir_resist.fhir.read.coverage import report_coverage
from fhir_resist.fhir.read.elements import JSON, items, profile_is, string
from fhir_resist.fhir.read.links import GeneWanted, Links, link
from fhir_resist.fhir.read.variants import read_variant
from fhir_resist.reading_rules import ReadingRules

log = logging.getLogger("fhir_resist.read")

INTERNAL_ERROR = "internal error"  # how a message about a reader bug starts (tests look for it)

_IGNORED_STATUS = frozenset({"entered-in-error", "cancelled"})
# What fhir_resist reads that is about one patient (subject/patient), so must be about this one.
_ABOUT_A_PATIENT = frozenset({"Observation", "DiagnosticReport", "Condition", "Specimen", *THERAPY_TYPES})
# Resource types that are read only through references, or that carry nothing fhir_resist uses.
_SILENTLY_UNUSED = frozenset(
    {
        "Patient",
        "Medication",
        "Practitioner",
        "Organization",
        "PractitionerRole",
        "ServiceRequest",
        "Procedure",
        "Device",
        "DocumentReference",
        "Encounter",
        "GenomicStudy",
    }
)


@dataclass
class _Found:
    alterations: list[Alteration] = field(default_factory=list)
    therapies: list[Therapy] = field(default_factory=list)
    tumours: list[Tumour] = field(default_factory=list)
    specimens: list[Specimen] = field(default_factory=list)
    reports: list[GenomicReport] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    lab_implications: list[LabImplication] = field(default_factory=list)
    regions: list[tuple[str, JSON]] = field(default_factory=list)  # RegionStudied Observations


def patient_context(
    collected: Collected,
    notes: Notes,
    *,
    tumour_override: str | None,
    chosen: str | None,
    rules: ReadingRules | None = None,
    wanted: GeneWanted | None = None,
) -> PatientContext:
    links = link(collected, notes, rules, wanted)
    patients = _patients(collected, links)
    patient = _choose(patients, chosen, notes)
    found = _Found()
    for ref, res in collected:
        if ref in links.superseded:
            notes.add(
                Severity.INFORMATION, ref, f"superseded by {links.superseded[ref]} (same identifier); ignored"
            )
            continue
        if _counts(ref, res, patient, links, notes):
            _read_guarded(ref, res, links, notes, found)
    reports = _with_coverage(found, links, notes)
    return PatientContext(
        patient=patient,
        alterations=tuple(found.alterations),
        therapies=tuple(found.therapies),
        tumours=tuple(found.tumours),
        specimens=tuple(found.specimens),
        reports=reports,
        messages=tuple(notes.said()),
        tumour_override=tumour_override,
        patients=patients,
        inputs=tuple(found.inputs),
        lab_implications=tuple(found.lab_implications),
    )


def _with_coverage(found: _Found, links: Links, notes: Notes) -> tuple[GenomicReport, ...]:
    """Each report with what it says it studied; a report whose negatives have no stated scope is
    named once (its negatives then count only for the variants they name themselves)."""
    by_report: dict[str, list[tuple[str, JSON]]] = {}
    for ref, res in found.regions:
        owner = links.report_of.get(ref)
        if owner is None:
            notes.add(
                Severity.WARNING,
                ref,
                "region studied that belongs to no DiagnosticReport in the input: it gives no scope "
                "to any result",
            )
        else:
            by_report.setdefault(owner, []).append((ref, res))
    out = []
    for report in found.reports:
        res = links.collected.resources.get(report.source) or {}
        regions = by_report.get(report.source, [])
        coverage = report_coverage(report.source, res, regions, links.collected, notes)
        negatives = [a for a in found.alterations if a.report == report.source and a.call is Call.ABSENT]
        if negatives and not coverage.stated:
            notes.add(
                Severity.INFORMATION,
                report.source,
                "the report does not state what it studied (no RegionStudied Observation or GenomicStudy): "
                f"its {len(negatives)} negative result(s) count only for the variants they name, not for "
                "whole genes or exons",
            )
        out.append(replace(report, coverage=coverage))
    return tuple(out)


def _read_guarded(ref: str, res: JSON, links: Links, notes: Notes, found: _Found) -> None:
    """Read one resource. The readers never raise on content; if one does, that is a bug in
    fhir_resist: it is logged, named as an internal error, and the rest is still read."""
    try:
        _read(ref, res, links, notes, found)
    except Exception as exc:  # a reader bug must not lose the other resources' results
        log.exception("internal error reading %s", ref)
        notes.add(
            Severity.ERROR,
            ref,
            f"{INTERNAL_ERROR} while reading this {res['resourceType']} ({type(exc).__name__}); "
            "the resource is not used - please report this input to the fhir_resist maintainers",
        )


def _read(ref: str, res: JSON, links: Links, notes: Notes, found: _Found) -> None:
    rtype = res["resourceType"]
    if rtype == "Observation":
        _read_observation(ref, res, links, notes, found)
        return
    if rtype == "Specimen":
        found.specimens.append(read_specimen(ref, res, links, notes))
        return
    item: Therapy | Tumour | GenomicReport | None = None
    if rtype in THERAPY_TYPES:
        item = therapy = read_therapy(ref, res, links, notes)
        if therapy is not None:
            found.therapies.append(therapy)
    elif rtype == "Condition":
        item = tumour = read_condition(ref, res, links, notes)
        if tumour is not None:
            found.tumours.append(tumour)
    elif rtype == "DiagnosticReport":
        item = report = read_report(ref, res, links, notes)
        found.reports.append(report)
    elif rtype not in _SILENTLY_UNUSED:
        notes.add(Severity.INFORMATION, ref, f"{rtype} is not used by fhir_resist; ignored")
    if item is not None:
        found.inputs.append(ref)


def _read_observation(ref: str, res: JSON, links: Links, notes: Notes, found: _Found) -> None:
    kinds = links.kinds.get(ref, frozenset())
    if "region-studied" in kinds:
        found.regions.append((ref, res))  # read with its report (fhir/read/coverage.py)
        found.inputs.append(ref)
        return
    if "implication" in kinds:
        implication = read_implication(ref, res, links, notes)
        if implication is not None:
            found.lab_implications.append(implication)
        return
    alteration = _observation(ref, res, kinds, links, notes)
    if alteration is not None:
        found.alterations.append(alteration)
        found.inputs.append(ref)


def _observation(ref: str, res: JSON, kinds: frozenset[str], links: Links, notes: Notes) -> Alteration | None:
    if items(res, "hasMember") and not items(res, "component"):
        return None  # a grouping (e.g. a complex variant): its members are read one by one
    if "variant" in kinds or profile_is(res, "/variant"):
        return read_variant(ref, res, links, notes)
    if "msi" in kinds or "msi-ihc" in kinds:
        return read_msi(ref, res, links, notes)
    if "tmb" in kinds:
        return read_tmb(ref, res, links, notes)
    if "tumour-fraction" in kinds:
        return None  # read with the specimen it describes
    if "coded" not in kinds:
        notes.add(Severity.WARNING, f"{ref}.code", "Observation has no code; ignored")
        return None
    if "consequence" in kinds or res.get("hasMember"):
        return None  # read with the variant it derives from / a grouping of other findings
    notes.add(
        Severity.INFORMATION, f"{ref}.code", "Observation is not a variant, MSI or TMB finding; not evaluated"
    )
    return None


def _counts(ref: str, res: JSON, patient: str | None, links: Links, notes: Notes) -> bool:
    """Whether a resource is read at all: not withdrawn, about this patient, understood."""
    status = string(res, "status")
    if status in _IGNORED_STATUS:
        notes.add(Severity.INFORMATION, ref, f"status is '{status}'; ignored")
        return False
    if not _same_patient(ref, res, patient, links, notes):
        return False
    modifiers = items(res, "modifierExtension") if "modifierExtension" in res else []
    if modifiers:
        urls = ", ".join(str(e.get("url")) for e in modifiers)
        notes.add(
            Severity.ERROR,
            f"{ref}.modifierExtension",
            f"carries a modifier extension fhir_resist does not understand ({urls}); "
            "the resource is not used",
        )
        return False
    return True


def _patients(collected: Collected, links: Links) -> tuple[str, ...]:
    """Every patient the input speaks of: Patient resources and the subjects of the rest."""
    found = {ref for ref in collected.order if ref.startswith("Patient/")}
    found.update(subject for subject in links.subjects.values() if subject.startswith("Patient/"))
    return tuple(sorted(found))


def _choose(patients: tuple[str, ...], chosen: str | None, notes: Notes) -> str | None:
    if chosen:
        wanted = chosen if chosen.startswith("Patient/") else f"Patient/{chosen}"
        if wanted not in patients:
            notes.add(Severity.ERROR, wanted, f"{wanted} is not in the input")
        return wanted
    if len(patients) > 1:
        notes.add(
            Severity.ERROR,
            "Patient",
            f"the input holds several patients ({', '.join(patients)}); only {patients[0]} "
            "is evaluated: choose which patient to evaluate",
        )
    return patients[0] if patients else None


def _same_patient(ref: str, res: JSON, patient: str | None, links: Links, notes: Notes) -> bool:
    if patient is None or res.get("resourceType") not in _ABOUT_A_PATIENT:
        return True
    element = "patient" if "patient" in res and "subject" not in res else "subject"
    subject = links.subjects.get(ref)
    if subject == patient:
        return True
    where = f"{ref}.{element}"
    if subject is None:
        notes.add(
            Severity.WARNING,
            where,
            f"names no patient; read as about {patient}, the only patient in the input",
        )
        return True
    if subject.startswith("Patient/"):
        notes.add(Severity.ERROR, where, f"refers to {subject}, not {patient}; ignored (mixed patients)")
        return False
    notes.add(
        Severity.WARNING,
        where,
        f"is {subject}, not a patient; ignored (a finding must be about this patient)",
    )
    return False
