"""HGNC previous symbols in genes.yaml: a report that names a gene by an old symbol is understood."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate
from tests.conftest import SCENARIOS, load_json

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("previous", "current"),
    [
        ("KRAS2", "KRAS"),
        ("NGL", "ERBB2"),
        ("ERBB", "EGFR"),
        ("PBT", "KIT"),
        ("FANCD1", "BRCA2"),
        ("madh4", "SMAD4"),
    ],
)
def test_previous_symbol_resolves_to_the_current_symbol(
    catalogue: Catalogue, previous: str, current: str
) -> None:
    assert current in catalogue.genes
    assert previous.upper() in catalogue.genes[current].previous_symbols
    assert catalogue.gene_symbol(previous, None) == current


def test_a_previous_symbol_shared_with_another_gene_is_not_mapped(catalogue: Catalogue) -> None:
    # FACD and FANCD are HGNC previous symbols of both BRCA2 and FANCD2: left out of genes.yaml.
    assert "FACD" not in catalogue.genes["BRCA2"].previous_symbols
    assert catalogue.gene_symbol("FACD", None) == "FACD"


def test_variant_observation_with_a_previous_symbol_as_gene_display(catalogue: Catalogue) -> None:
    bundle: dict[str, Any] = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    kras = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == "v-kras")
    gene = next(c for c in kras["component"] if c["code"]["coding"][0]["code"] == "48018-6")
    gene["valueCodeableConcept"] = {"coding": [{"display": "KRAS2"}], "text": "KRAS2"}
    assessment = evaluate([bundle], catalogue=catalogue, at=AT)
    assert assessment.issues, "the KRAS G12D finding reported under KRAS2 was not understood"
    assert assessment.issues[0].finding.trigger.gene == "KRAS"


@pytest.mark.parametrize("ambiguous", ["SRC1", "HRAS1", "CFD1", "MRP"])
def test_a_previous_symbol_that_is_another_genes_alias_is_not_mapped(
    catalogue: Catalogue, ambiguous: str
) -> None:
    # e.g. SRC1 is HGNC's previous symbol of SRC but the usual name of NCOA1 (SRC-1).
    assert catalogue.gene_symbol(ambiguous, None) == ambiguous
