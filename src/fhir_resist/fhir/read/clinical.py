"""The clinical context: therapies (MedicationRequest / Statement / Administration), the cancer
(Condition), specimens and the genomic report (DiagnosticReport)."""

from __future__ import annotations

from datetime import date

from fhir_resist.domain import GenomicReport, Severity, Specimen, SpecimenType, Therapy, Tumour
from fhir_resist.fhir.read.collection import Collected, Notes
from fhir_resist.fhir.read.dosage import daily_dose
from fhir_resist.fhir.read.elements import (
    JSON,
    code_set,
    codings,
    items,
    obj,
    parse_date,
    profile_is,
    reference,
    string,
    text,
)
from fhir_resist.fhir.read.links import Links
from fhir_resist.fhir.read.phrases import Outcome, read_phrase, said_in
from fhir_resist.reading_rules import ReadingRules

THERAPY_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration")
_PROPOSED_INTENTS = frozenset({"proposal", "plan"})
_PLASMA_TYPES = frozenset({"PLAS", "BLD", "SER"})
_TISSUE_TYPES = frozenset({"TUMOR", "TISS", "BX", "BIO"})
_SPECIMEN_TYPES = {"plasma": SpecimenType.PLASMA, "tissue": SpecimenType.TISSUE}


def read_therapy(ref: str, res: JSON, links: Links, notes: Notes) -> Therapy | None:
    concept = res.get("medicationCodeableConcept")
    med_ref = reference(res.get("medicationReference"))
    if concept is None and med_ref is not None:
        concept = _medication(ref, res, med_ref, links.collected, notes)
    found = codings(concept)
    label = text(concept)
    if not found and label is None:
        notes.add(Severity.WARNING, f"{ref}.medication[x]", "names no drug (no coding, no text); ignored")
        return None
    start, end = _therapy_dates(ref, res, notes)
    status = string(res, "status") or "unknown"
    proposed = status in {"draft", "intended"} or string(res, "intent") in _PROPOSED_INTENTS
    return Therapy(
        source=ref,
        resource_type=str(res["resourceType"]),
        status=status,
        codings=found,
        text=label,
        start=start,
        end=end,
        proposed=proposed,
        groups=_therapy_groups(res, links.collected),
        daily_dose=daily_dose(res),
    )


def _therapy_groups(res: JSON, collected: Collected) -> tuple[str, ...]:
    """The requests, plans and group identifiers a therapy shares with the others of its regimen."""
    out = list(dict.fromkeys(collected.resolve_all(res, "basedOn") + collected.resolve_all(res, "partOf")))
    group = obj(res, "groupIdentifier")
    value = string(group, "value")
    if value is not None:
        out.append(f"{string(group, 'system') or ''}|{value}")
    return tuple(out)


def _medication(ref: str, res: JSON, med_ref: str, collected: Collected, notes: Notes) -> object:
    if med_ref.startswith("#"):
        for contained in items(res, "contained"):
            if f"#{contained.get('id')}" == med_ref:
                return contained.get("code")
    else:
        medication = collected.get(med_ref)
        if medication is not None:
            return medication.get("code")
    notes.add(
        Severity.WARNING, f"{ref}.medicationReference", f"{med_ref} is not in the input; the drug is unknown"
    )
    return None


def _therapy_dates(ref: str, res: JSON, notes: Notes) -> tuple[date | None, date | None]:
    """Start and end of a therapy; a date that cannot be read, or an end before the start,
    is said, and the dates are then not used (timing becomes undetermined, never guessed)."""
    dates: list[date | None] = []
    for element, raw in _therapy_period(res):
        value = parse_date(raw)
        if raw is not None and value is None:
            notes.add(Severity.WARNING, f"{ref}.{element}", f"{raw!r} is not a FHIR date; not used")
        dates.append(value)
    start, end = dates
    if start is not None and end is not None and end < start:
        notes.add(
            Severity.WARNING,
            f"{ref}.effective[x]",
            f"ends ({end.isoformat()}) before it starts ({start.isoformat()}); dates not used",
        )
        return None, None
    return start, end


def _therapy_period(res: JSON) -> tuple[tuple[str, object], tuple[str, object]]:
    """Where a therapy's start and end are, as (element, raw value) pairs."""
    period = res.get("effectivePeriod")
    if isinstance(period, dict):
        return ("effectivePeriod.start", period.get("start")), ("effectivePeriod.end", period.get("end"))
    if "effectiveDateTime" in res:
        return ("effectiveDateTime", res.get("effectiveDateTime")), ("", None)
    for dosage in items(res, "dosageInstruction") or items(res, "dosage"):
        bounds = obj(obj(obj(dosage, "timing"), "repeat"), "boundsPeriod")
        if bounds:
            where = "dosage.timing.repeat.boundsPeriod"
            return (f"{where}.start", bounds.get("start")), (f"{where}.end", bounds.get("end"))
    return ("authoredOn", res.get("authoredOn")), ("", None)


def read_condition(ref: str, res: JSON, links: Links, notes: Notes) -> Tumour | None:
    if code_set(res.get("verificationStatus")) & {"refuted", "entered-in-error"}:
        notes.add(Severity.INFORMATION, f"{ref}.verificationStatus", "refuted condition; ignored")
        return None
    found = codings(res.get("code"))
    label = text(res.get("code"))
    if not found and label is None:
        notes.add(Severity.WARNING, f"{ref}.code", "condition has no code; ignored")
        return None
    role = "unknown"
    if profile_is(res, "primary-cancer-condition"):
        role = "primary"
    elif profile_is(res, "secondary-cancer-condition"):
        role = "secondary"
    return Tumour(source=ref, codings=found, text=label, role=role)


def read_specimen(ref: str, res: JSON, links: Links, notes: Notes) -> Specimen:
    kinds = code_set(res.get("type"))
    if kinds & _PLASMA_TYPES:
        kind = SpecimenType.PLASMA
    elif kinds & _TISSUE_TYPES:
        kind = SpecimenType.TISSUE
    else:
        kind = _specimen_from_text(f"{ref}.type", res.get("type"), links.rules, notes)
    collection = obj(res, "collection")
    collected = parse_date(collection.get("collectedDateTime")) or parse_date(
        obj(collection, "collectedPeriod").get("start")
    )
    return Specimen(
        source=ref,
        type=kind,
        collected=collected or parse_date(res.get("receivedTime")),
        tumour_fraction=links.fractions.get(ref),
    )


def _specimen_from_text(
    where: str, concept: object, rules: ReadingRules | None, notes: Notes
) -> SpecimenType:
    """A specimen type with no v2-0487 code that decides: its text, read with the catalogue's words."""
    said = said_in(concept)
    if not said:
        return SpecimenType.UNKNOWN
    if rules is None:
        notes.add(
            Severity.INFORMATION,
            where,
            f"specimen type '{said}' has no v2-0487 plasma or tissue code; its text is not read "
            "without the catalogue's reading rules: type unknown",
        )
        return SpecimenType.UNKNOWN
    reading = read_phrase(said, rules.specimen, rules.cues)
    if reading.outcome is Outcome.STATED and reading.category in _SPECIMEN_TYPES:
        return _SPECIMEN_TYPES[reading.category]
    if reading.outcome is not Outcome.UNSTATED:
        notes.add(
            Severity.WARNING,
            where,
            f"specimen type not evaluable: no v2-0487 plasma or tissue code, and "
            f"{reading.explain(said)}; type unknown",
        )
    return SpecimenType.UNKNOWN


def read_report(ref: str, res: JSON, links: Links, notes: Notes) -> GenomicReport:
    results = links.collected.resolve_all(res, "result")
    raw = res.get("result")
    listed = raw if isinstance(raw, list) else [] if raw is None else [raw]
    if len(listed) > len(results):
        notes.add(
            Severity.WARNING,
            f"{ref}.result",
            f"{len(listed) - len(results)} of {len(listed)} results are not references; "
            "those results are not linked to this report",
        )
    return GenomicReport(
        source=ref,
        status=string(res, "status") or "unknown",
        issued=parse_date(res.get("issued")),
        effective=parse_date(res.get("effectiveDateTime"))
        or parse_date(obj(res, "effectivePeriod").get("start")),
        specimens=links.collected.resolve_all(res, "specimen"),
        results=results,
    )
