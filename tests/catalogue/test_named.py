"""The genes the catalogue's knowledge names (``Catalogue.named_genes``), checked against a reading
of the YAML files of its own: every ``gene`` and ``partner`` anywhere in the rules, the requirements
and the resistance gene sets."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from fhir_resist import Catalogue
from fhir_resist.catalogue import index
from fhir_resist.catalogue.named import named_genes
from fhir_resist.catalogue.schema import AlterationPattern
from tests.conftest import ROOT

CATALOGUE = ROOT / "catalogue"


def _genes_in(document: Any, found: set[str]) -> None:
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("gene", "partner") and isinstance(value, str):
                found.add(value)
            else:
                _genes_in(value, found)
    elif isinstance(document, list):
        for item in document:
            _genes_in(item, found)


def test_every_gene_the_yaml_names_is_named(catalogue: Catalogue) -> None:
    found: set[str] = set()
    files = [*sorted((CATALOGUE / "rules").rglob("*.yaml")), CATALOGUE / "requirements.yaml"]
    for path in [*files, CATALOGUE / "resistance-genes.yaml"]:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        # the rules' own test cases describe patients, not knowledge: a case's passenger names nothing
        if isinstance(document, dict):
            document = {k: v for k, v in document.items() if k != "cases"}
        _genes_in(document, found)
    assert found  # the walk found the genes at all
    assert catalogue.named_genes == frozenset(found)
    assert "B2M" in catalogue.genes and "B2M" not in catalogue.named_genes  # a table gene, no rule's


def test_a_reported_gene_is_named_by_its_current_symbol(catalogue: Catalogue) -> None:
    assert catalogue.names_gene("KRAS", None)
    assert catalogue.names_gene(None, "HGNC:6407")  # KRAS by its HGNC id alone
    assert catalogue.names_gene("HER2", None)  # ERBB2 by an alias
    assert catalogue.names_gene("TTN", "HGNC:6407")  # the id wins over a displayed symbol
    assert not catalogue.names_gene("TTN", "HGNC:12403")
    assert not catalogue.names_gene("B2M", None)


def test_a_field_nested_anywhere_is_found() -> None:
    pattern = AlterationPattern(kind="fusion", gene="ALK", partner="EML4")
    assert named_genes([pattern, [pattern], {"x": (pattern,)}]) == {"ALK", "EML4"}


def test_the_named_genes_are_kept_outside_the_catalogue_value(catalogue: Catalogue) -> None:
    first = catalogue.named_genes
    assert catalogue.named_genes is first  # worked out once
    assert "named_genes" not in vars(catalogue)  # the instance holds only its fields
    copy = Catalogue(**vars(catalogue))
    assert copy.named_genes == first and copy.named_genes is not first


def test_an_answer_is_the_same_when_kept_and_when_begun_anew(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "_NAMED_ANSWERS", 2)
    assert catalogue.named_genes
    index._NAMED[id(catalogue)].answers.clear()
    asked = [("KRAS", None), ("B2M", None), ("TTN", "HGNC:6407"), ("KRAS", None), ("B2M", None)]
    assert [catalogue.names_gene(*a) for a in asked] == [True, False, True, True, False]
    assert len(index._NAMED[id(catalogue)].answers) <= 2
