"""Biomarker Observations: microsatellite instability / mismatch repair, tumour mutational
burden, and the laboratory's own therapeutic implications."""

from __future__ import annotations

from fhir_resist import terminology
from fhir_resist.domain import Alteration, Call, Kind, LabImplication, MsiStatus, Severity
from fhir_resist.fhir.read.collection import Notes
from fhir_resist.fhir.read.components import components
from fhir_resist.fhir.read.elements import JSON, code_set, codings, number, obj, text, words
from fhir_resist.fhir.read.links import Links

_MSI_NAMES = {MsiStatus.HIGH: "MSI-high", MsiStatus.STABLE: "microsatellite stable", MsiStatus.LOW: "MSI-low"}
_MMR_NAMES = {
    MsiStatus.HIGH: "MMR-deficient (IHC)",
    MsiStatus.STABLE: "MMR-proficient (IHC)",
    MsiStatus.LOW: "MSI-low",
}


def read_msi(ref: str, res: JSON, links: Links, notes: Notes) -> Alteration | None:
    """MSI by PCR/NGS (81695-9) or mismatch-repair status by immunohistochemistry (62862-8)."""
    value = res.get("valueCodeableConcept")
    by_ihc = terminology.MSI_IHC in code_set(res.get("code"))
    status = _msi_status(code_set(value), words(value).lower(), by_ihc=by_ihc)
    if status is None:
        notes.add(
            Severity.WARNING,
            f"{ref}.valueCodeableConcept",
            "MSI/MMR result is not MSI-H (LA26203-2), stable (LA14122-8), MSI-L, or an MMR "
            "deficient/proficient statement; ignored",
        )
        return None
    label = (_MMR_NAMES if by_ihc else _MSI_NAMES)[status]
    return Alteration(
        kind=Kind.MSI, call=Call.PRESENT, msi=status, label=label, **links.finding_fields(ref, res)
    )


def _msi_status(found: frozenset[str], said: str, *, by_ihc: bool) -> MsiStatus | None:
    if terminology.MSI_HIGH in found or "msi-h" in said or "high" in said:
        return MsiStatus.HIGH
    if terminology.MSI_STABLE in found or "stable" in said or "mss" in said:
        return MsiStatus.STABLE
    if "msi-l" in said or "low" in said:
        return MsiStatus.LOW
    if by_ihc and any(w in said for w in ("deficien", "dmmr", "loss", "absent")):
        return MsiStatus.HIGH  # mismatch-repair deficient by IHC
    if by_ihc and any(w in said for w in ("proficien", "pmmr", "intact", "retained")):
        return MsiStatus.STABLE
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
    """The laboratory's therapeutic implication: the drug assessed and whether it says resistant."""
    comps = components(res)
    answers = [
        c.get("valueCodeableConcept")
        for key in (terminology.THERAPEUTIC_IMPLICATION, terminology.PREDICTED_THERAPEUTIC_IMPLICATION)
        for c in comps.get(key, ())
    ]
    answers.append(res.get("valueCodeableConcept"))  # STU1 kept the answer in value[x]
    assertion, said = "other", ""
    for answer in answers:
        found, lowered = code_set(answer), words(answer).lower()
        said = said or words(answer)
        if found & terminology.RESISTANT_ANSWERS or ("resist" in lowered and "not support" not in lowered):
            assertion = "resistant"
        elif found & terminology.RESPONSIVE_ANSWERS or (
            any(w in lowered for w in ("respons", "sensitiv")) and "not support" not in lowered
        ):
            assertion = "responsive"
        if assertion != "other":
            break
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
