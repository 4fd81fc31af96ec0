"""Data requirements: the tests whose results would change the answer (catalogue-driven)."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import Alteration, Therapy
from fhir_resist.engine.model import DataRequirement, Finding

TUMOUR_TYPE = "tumour-type"
CTDNA_TUMOUR_FRACTION = "ctdna-tumour-fraction"
# Requirements the engine raises itself (not from catalogue/requirements.yaml): code -> definition.
ENGINE_REQUIREMENTS = {
    TUMOUR_TYPE: "A Condition coded with a cancer type the catalogue knows.",
    CTDNA_TUMOUR_FRACTION: "Tumour fraction of a negative plasma (ctDNA) sample, or a tissue retest: a "
    "negative ctDNA result at low or unknown tumour fraction does not prove a variant is gone.",
}


def data_requirements(
    catalogue: Catalogue,
    tumour: str | None,
    alterations: tuple[Alteration, ...],
    therapies: tuple[tuple[Therapy, tuple[str, ...]], ...],
    findings: tuple[Finding, ...] = (),
) -> tuple[DataRequirement, ...]:
    needs: list[DataRequirement] = []
    unconfirmed = sorted({f.trigger.label for f in findings if f.history.unconfirmed_negative})
    if unconfirmed:
        needs.append(
            DataRequirement(
                CTDNA_TUMOUR_FRACTION,
                "Tumour fraction of the latest plasma sample, or a tissue retest",
                f"{', '.join(unconfirmed)} not detected in the latest plasma sample, whose tumour fraction "
                "is unknown or low: that is not proof the variant is gone",
            )
        )
    if tumour is None:
        needs.append(
            DataRequirement(
                TUMOUR_TYPE,
                "Cancer type (a Condition coded in SNOMED CT, ICD-10-CM, NCIt or OncoTree)",
                "no cancer diagnosis the catalogue recognises; tumour-specific rules were not applied",
            )
        )
        return tuple(needs)
    taking = {drug for _, drugs in therapies for drug in drugs}
    for requirement in catalogue.requirements:
        if not catalogue.tumour_in_scope(tumour, requirement.tumours):
            continue
        if requirement.therapies is not None and not (taking & catalogue.members(requirement.therapies)):
            continue
        missing = [
            t.gene or t.kind.upper()
            for t in requirement.tested
            if not any(a.kind.value == t.kind and (t.gene is None or a.gene == t.gene) for a in alterations)
        ]
        if missing:
            needs.append(
                DataRequirement(
                    requirement.id,
                    requirement.title,
                    f"no result for {', '.join(missing)} in the input",
                )
            )
    return tuple(needs)
