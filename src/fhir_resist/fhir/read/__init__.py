"""Read FHIR R4 resources (plain dicts) into a PatientContext.

Tolerant by design: a resource or element that cannot be used becomes a ``Message`` naming
the resource and element, and everything else is still read. Nothing here raises on content.

    collection   the input's resources by reference, Bundles unpacked; the notes
    elements     defensive accessors for FHIR elements (codings, references, dates, numbers)
    links        what resources say about each other, gathered before any is read
    components   Observation components and the values read from them
    variants     variant Observations: simple variants, copy-number changes, fusions
    biomarkers   MSI / MMR, TMB, the laboratory's therapeutic implications
    phrases      free text read with negation and uncertainty, by the catalogue's words
    clinical     therapies, the cancer, specimens, the genomic report
    context      one patient's context: which resources count, each to its reader
"""

from __future__ import annotations

from collections.abc import Iterable

from fhir_resist.domain import PatientContext
from fhir_resist.fhir.read.collection import (
    Notes,
    collect,
    iter_resources,
    local_reference,
    normalise_reference,
)
from fhir_resist.fhir.read.context import INTERNAL_ERROR, patient_context
from fhir_resist.fhir.read.elements import JSON, codings, parse_date
from fhir_resist.fhir.read.links import GeneWanted, observation_kinds
from fhir_resist.reading_rules import ReadingRules

__all__ = [
    "INTERNAL_ERROR",
    "GeneWanted",
    "codings",
    "iter_resources",
    "local_reference",
    "normalise_reference",
    "observation_kinds",
    "parse_date",
    "read_context",
]


def read_context(
    resources: Iterable[JSON],
    *,
    tumour_override: str | None = None,
    patient: str | None = None,
    rules: ReadingRules | None = None,
    wanted: GeneWanted | None = None,
) -> PatientContext:
    """Read resources (Bundles are unpacked) into one patient's context.

    With several patients in the input, ``patient`` (``Patient/ID`` or ``ID``) chooses one; without
    it the first in sorted order is used and an error message says so.

    ``rules`` are the catalogue's words and cut-offs (``Catalogue.reading``). Without them only
    codes are read: an MSI result, therapeutic implication or specimen type given only as text,
    and a copy number without a gain or loss change type, are said to be not read (a message
    naming the element), never guessed.

    ``wanted`` (a gene's symbol and HGNC id -> bool) limits the reading of simple variants: one in a
    gene it refuses is left out of the context, with the messages it would have had. Fusions,
    copy-number changes, variants that name no gene or two, and everything else are read as ever.
    For a caller that needs only what the catalogue can say (the hook cards:
    ``Catalogue.names_gene``); without it every variant is read.
    """
    notes = Notes()
    collected = collect(resources, notes)
    return patient_context(
        collected, notes, tumour_override=tumour_override, chosen=patient, rules=rules, wanted=wanted
    )
