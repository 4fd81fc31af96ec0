"""Biomarker Observations: microsatellite instability / mismatch repair, tumour mutational
burden, and the laboratory's own therapeutic implications."""

from __future__ import annotations

from collections.abc import Iterable

from fhir_resist import terminology
from fhir_resist.domain import Alteration, Call, Kind, LabImplication, MsiStatus, Severity
from fhir_resist.fhir.read.collection import Notes
from fhir_resist.fhir.read.components import components
from fhir_resist.fhir.read.elements import JSON, code_set, codings, number, obj, text, words
from fhir_resist.fhir.read.links import Links
from fhir_resist.fhir.read.phrases import Outcome, read_phrase, said_in
from fhir_resist.reading_rules import ReadingRules, Terms

_MSI_NAMES = {MsiStatus.HIGH: "MSI-high", MsiStatus.STABLE: "microsatellite stable", MsiStatus.LOW: "MSI-low"}
_MMR_NAMES = {
    MsiStatus.HIGH: "MMR-deficient (IHC)",
    MsiStatus.STABLE: "MMR-proficient (IHC)",
    MsiStatus.LOW: "MSI-low",
}


def read_msi(ref: str, res: JSON, links: Links, notes: Notes) -> Alteration | None:
    """MSI by PCR/NGS (81695-9) or mismatch-repair status by immunohistochemistry (62862-8).

    The answer code decides; the text (``text`` and the displays) is read only when no code does,
    with the catalogue's words, and anything but one stated status is not evaluable."""
    value = res.get("valueCodeableConcept")
    by_ihc = terminology.MSI_IHC in code_set(res.get("code"))
    where = f"{ref}.valueCodeableConcept"
    status = _coded_msi(code_set(value)) or _msi_from_text(where, value, links.rules, notes, by_ihc=by_ihc)
    if status is None:
        return None
    label = (_MMR_NAMES if by_ihc else _MSI_NAMES)[status]
    return Alteration(
        kind=Kind.MSI, call=Call.PRESENT, msi=status, label=label, **links.finding_fields(ref, res)
    )


def _coded_msi(found: frozenset[str]) -> MsiStatus | None:
    if terminology.MSI_HIGH in found and terminology.MSI_STABLE not in found:
        return MsiStatus.HIGH
    if terminology.MSI_STABLE in found and terminology.MSI_HIGH not in found:
        return MsiStatus.STABLE
    return None


_MSI_ANSWERS = {"high": MsiStatus.HIGH, "stable": MsiStatus.STABLE, "low": MsiStatus.LOW}
_MMR_AS_MSI = {"deficient": "high", "proficient": "stable"}  # mismatch-repair deficient: read as MSI-H
_NO_MSI_CODE = "no MSI-H (LA26203-2) or stable (LA14122-8) code"


def _msi_from_text(
    where: str, value: object, rules: ReadingRules | None, notes: Notes, *, by_ihc: bool
) -> MsiStatus | None:
    said = said_in(value)
    if not said:
        notes.add(Severity.WARNING, where, f"MSI/MMR result has {_NO_MSI_CODE} and no text; ignored")
        return None
    if rules is None:
        notes.add(
            Severity.WARNING,
            where,
            f"MSI/MMR result '{said}' has {_NO_MSI_CODE}; its text is not read without the "
            "catalogue's reading rules; ignored",
        )
        return None
    terms = rules.msi
    if by_ihc:
        terms += tuple(Terms(_MMR_AS_MSI[t.category], t.phrases) for t in rules.mmr)
    reading = read_phrase(said, terms, rules.cues)
    if reading.outcome is Outcome.STATED and reading.category in _MSI_ANSWERS:
        notes.add(Severity.INFORMATION, where, f"{_NO_MSI_CODE}: read from the text, {reading.explain(said)}")
        return _MSI_ANSWERS[reading.category]
    if reading.outcome is Outcome.UNSTATED:
        notes.add(
            Severity.WARNING,
            where,
            "MSI/MMR result is not MSI-H (LA26203-2), stable (LA14122-8), MSI-L, or an MMR "
            f"deficient/proficient statement ({reading.explain(said)}); ignored",
        )
        return None
    notes.add(
        Severity.WARNING,
        where,
        f"MSI/MMR result not evaluable: {_NO_MSI_CODE}, and {reading.explain(said)}; no MSI status is used",
    )
    return None


def read_tmb(ref: str, res: JSON, links: Links, notes: Notes) -> Alteration | None:
    value = number(obj(res, "valueQuantity").get("value"))
    if value is None or value < 0:
        notes.add(Severity.WARNING, f"{ref}.valueQuantity", "TMB has no usable numeric value; ignored")
        return None
    return Alteration(
        kind=Kind.TMB,
        call=Call.PRESENT,
        tmb=value,
        label=f"TMB {value:g} mut/Mb",
        **links.finding_fields(ref, res),
    )


def read_implication(ref: str, res: JSON, links: Links, notes: Notes) -> LabImplication | None:
    """The laboratory's therapeutic implication: the drug assessed and whether it says resistant.

    An answer code decides; the answers' text is read only when no code does, and a negated,
    hedged or conflicting text is "other" with a message, never resistant or responsive."""
    comps = components(res)
    answers = [
        (f"{ref}.component:{key}", c.get("valueCodeableConcept"))
        for key in (terminology.THERAPEUTIC_IMPLICATION, terminology.PREDICTED_THERAPEUTIC_IMPLICATION)
        for c in comps.get(key, ())
    ]
    answers.append((f"{ref}.valueCodeableConcept", res.get("valueCodeableConcept")))  # STU1: value[x]
    said = next((w for _, answer in answers if (w := words(answer))), "")
    assertion = _coded_assertion(answer for _, answer in answers) or _text_assertion(
        answers, links.rules, notes
    )
    drug = next((c.get("valueCodeableConcept") for c in comps.get(terminology.MEDICATION_ASSESSED, ())), None)
    if drug is None and not said:
        notes.add(Severity.INFORMATION, ref, "therapeutic implication names no drug and no implication")
        return None
    return LabImplication(
        source=ref,
        derived_from=links.collected.resolve_all(res, "derivedFrom"),
        drug_codings=codings(drug),
        drug_text=text(drug),
        assertion=assertion,
        text=said,
    )


def _coded_assertion(answers: Iterable[object]) -> str | None:
    for answer in answers:
        found = code_set(answer)
        if found & terminology.RESISTANT_ANSWERS:
            return "resistant"
        if found & terminology.RESPONSIVE_ANSWERS:
            return "responsive"
    return None


def _text_assertion(answers: list[tuple[str, object]], rules: ReadingRules | None, notes: Notes) -> str:
    """resistant | responsive when the answers' text states one of them, and nothing else; other."""
    stated: set[str] = set()
    for where, answer in answers:
        said = said_in(answer)
        if not said:
            continue
        if rules is None:
            notes.add(
                Severity.INFORMATION,
                where,
                f"implication '{said}' has no LOINC answer code; its text is not read without the "
                "catalogue's reading rules",
            )
            continue
        reading = read_phrase(said, rules.implication, rules.cues)
        if reading.outcome is Outcome.STATED and reading.category is not None:
            stated.add(reading.category)
        elif reading.outcome is not Outcome.UNSTATED:
            notes.add(
                Severity.INFORMATION,
                where,
                f"implication not evaluable: no LOINC answer code, and {reading.explain(said)}; "
                "read as neither resistant nor responsive",
            )
    if len(stated) == 1:
        return stated.pop()
    if stated:
        notes.add(
            Severity.INFORMATION,
            answers[0][0],
            "implication answers state both resistant and responsive; read as neither",
        )
    return "other"
