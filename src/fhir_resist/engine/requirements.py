"""Data requirements: the tests whose results would change the answer (catalogue-driven)."""

from __future__ import annotations

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import Alteration, Therapy
from fhir_resist.engine.model import DataRequirement

TUMOUR_TYPE = "tumour-type"


def data_requirements(
    catalogue: Catalogue,
    tumour: str | None,
    alterations: tuple[Alteration, ...],
    therapies: tuple[tuple[Therapy, tuple[str, ...]], ...],
) -> tuple[DataRequirement, ...]:
    needs: list[DataRequirement] = []
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
