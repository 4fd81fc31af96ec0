"""Plain sentences a clinician can read, built from findings and catalogue entries."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import Therapy
from fhir_resist.engine.model import Finding, TimingCall
from fhir_resist.engine.regimens import Regimen

_EFFECT_WORDS = {
    "resistance": "predicts resistance to",
    "reduced-response": "predicts a reduced response to",
    "no-known-effect": "has no known effect on",
    "sensitivity": "predicts sensitivity to",
}


def drug_names(drugs: tuple[str, ...], catalogue: Catalogue) -> str:
    names = [catalogue.drugs[d].name if d in catalogue.drugs else d for d in drugs]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def issue_sentence(
    finding: Finding,
    therapy: Therapy,
    drugs: tuple[str, ...],
    timing: TimingCall,
    catalogue: Catalogue,
    earlier: Therapy | None = None,
    regimen: Regimen | None = None,
) -> str:
    rule = finding.rule
    alteration = finding.trigger.label
    partners = [a.label for a in finding.alterations[1:]]
    if partners:
        alteration += " with " + ", ".join(partners)
    where = f" in {catalogue.tumour_name(finding.tumour)}" if finding.tumour else ""
    if not finding.in_scope:
        where += " (evidence comes from other tumour types)"
    timing_words = {
        TimingCall.PRIMARY: "present before this therapy (primary resistance)",
        TimingCall.ACQUIRED: (
            f"emerged during an earlier course of {earlier.label} (acquired resistance)"
            if earlier is not None
            else "emerged during this therapy (acquired resistance)"
        ),
        TimingCall.UNDETERMINED: "whether primary or acquired cannot be told from the data",
    }[timing]
    given = drug_names(drugs, catalogue)
    if regimen is not None and len(regimen.drugs) > 1:
        given += f" (regimen {drug_names(regimen.drugs, catalogue)})"
    sentence = (
        f"{alteration} {_EFFECT_WORDS[rule.effect.value]} {given}{where} "
        f"({rule.mechanism.value} mechanism; {timing_words}; evidence level {rule.evidence.level.value})."
    )
    latest = finding.history.latest
    if finding.history.cleared and latest.when is not None:
        sentence += f" It was not detected in the latest sample ({latest.when.isoformat()})."
    elif finding.history.unconfirmed_negative and latest.when is not None:
        sentence += (
            f" It was not detected in the latest plasma sample ({latest.when.isoformat()}), "
            "but at unknown or low tumour fraction that does not prove it is gone."
        )
    return sentence
