"""Fusions in the German MII molecular-genetics shape: the gene-fusion component (LOINC 95123-6,
value ``HGNC:3689::HGNC:2697`` "FGFR2::DBP") names both partners."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_resist import Catalogue
from fhir_resist.domain import Alteration, Kind, Severity
from fhir_resist.engine.context import resolve_gene
from fhir_resist.fhir.read import read_context
from tests.conftest import DATA, load_json

MII = load_json(DATA / "shapes" / "mii-fgfr2-dbp-fusion.json")
WHERE = "Observation/mii-fgfr2-dbp.component:gene-fusion"


def _bundle() -> dict[str, Any]:
    bundle: dict[str, Any] = copy.deepcopy(MII)
    return bundle


def _components(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    components: list[dict[str, Any]] = bundle["entry"][1]["resource"]["component"]
    return components


def _by_code(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for c in _components(bundle) if c["code"]["coding"][0]["code"] == code)


def _read(bundle: dict[str, Any]) -> tuple[Alteration, list[tuple[Severity, str, str]]]:
    context = read_context([bundle])
    (fusion,) = context.alterations
    return fusion, [(m.severity, m.where, m.text) for m in context.messages]


def test_the_mii_fusion_component_names_both_partners() -> None:
    fusion, messages = _read(_bundle())
    assert fusion.kind is Kind.FUSION
    assert (fusion.gene, fusion.hgnc_id) == ("FGFR2", "HGNC:3689")
    assert (fusion.partner, fusion.partner_hgnc_id) == ("DBP", "HGNC:2697")
    assert fusion.label == "FGFR2::DBP fusion"
    assert messages == []


def test_partners_coded_only_as_hgnc_ids_are_named_by_the_engine(catalogue: Catalogue) -> None:
    bundle = _bundle()
    fused = _by_code(bundle, "95123-6")["valueCodeableConcept"]["coding"][0]
    del fused["display"]
    _components(bundle).remove(_by_code(bundle, "48018-6"))  # no gene studied: both from the fusion
    fusion, messages = _read(bundle)
    assert (fusion.gene, fusion.hgnc_id, fusion.partner, fusion.partner_hgnc_id) == (
        None,
        "HGNC:3689",
        None,
        "HGNC:2697",
    )
    assert fusion.label == "HGNC:3689::HGNC:2697 fusion" and messages == []
    named = resolve_gene(fusion, catalogue)
    assert (named.gene, named.partner, named.label) == ("FGFR2", "DBP", "FGFR2::DBP fusion")


def test_the_gene_studied_may_be_the_3_prime_partner(catalogue: Catalogue) -> None:
    bundle = _bundle()  # ALK studied, EML4::ALK reported: the catalogue's fusion pattern
    gene = _by_code(bundle, "48018-6")["valueCodeableConcept"]["coding"][0]
    gene.update(code="HGNC:427", display="ALK")
    fused = _by_code(bundle, "95123-6")["valueCodeableConcept"]["coding"][0]
    fused.update(code="HGNC:1316::HGNC:427", display="EML4::ALK")
    fusion, messages = _read(bundle)
    assert (fusion.gene, fusion.partner, fusion.partner_hgnc_id) == ("ALK", "EML4", "HGNC:1316")
    assert messages == []
    assert resolve_gene(fusion, catalogue).label == "ALK::EML4 fusion"


@pytest.mark.parametrize(
    "value",
    [
        {"valueCodeableConcept": {"text": "FGFR2::DBP"}},
        {"valueString": "FGFR2::DBP"},
        {"valueCodeableConcept": {"coding": [{"code": "FGFR2::DBP"}]}},
        {"valueCodeableConcept": {"coding": [{"code": "HGNC:3689::HGNC:2697", "display": "FGFR2-DBP"}]}},
    ],
)
def test_the_fusion_as_symbols_or_text(value: dict[str, Any]) -> None:
    bundle = _bundle()
    component = _by_code(bundle, "95123-6")
    del component["valueCodeableConcept"]
    component.update(value)
    fusion, messages = _read(bundle)
    assert (fusion.gene, fusion.partner) == ("FGFR2", "DBP") or fusion.partner_hgnc_id == "HGNC:2697"
    assert messages == []


@pytest.mark.parametrize(
    "value",
    [
        {"valueCodeableConcept": {"coding": [{"code": "FGFR2-DBP"}]}},  # a readthrough, not a fusion
        {"valueCodeableConcept": {"text": "FGFR2::"}},
        {"valueString": "FGFR2::DBP::TACC3"},
        {},
    ],
)
def test_a_fusion_value_without_two_partners_is_said_and_the_gene_studied_kept(
    value: dict[str, Any],
) -> None:
    bundle = _bundle()
    component = _by_code(bundle, "95123-6")
    del component["valueCodeableConcept"]
    component.update(value)
    fusion, messages = _read(bundle)
    assert fusion.kind is Kind.FUSION  # the change type says gene_fusion
    assert (fusion.gene, fusion.partner, fusion.label) == ("FGFR2", None, "FGFR2 fusion")
    ((severity, where, text),) = messages
    assert severity is Severity.WARNING and where == WHERE
    assert "does not name two partners as GENE1::GENE2" in text and "partners are not read" in text


def test_a_fusion_that_leaves_out_the_gene_studied_is_said() -> None:
    bundle = _bundle()
    gene = _by_code(bundle, "48018-6")["valueCodeableConcept"]["coding"][0]
    gene.update(code="HGNC:427", display="ALK")
    fusion, messages = _read(bundle)
    assert (fusion.gene, fusion.partner, fusion.partner_hgnc_id) == ("ALK", None, None)
    ((severity, where, text),) = messages
    assert severity is Severity.WARNING and where == WHERE
    assert text.startswith("the fusion FGFR2::DBP does not include the gene studied, ALK")


def test_without_the_fusion_component_the_partner_is_unknown_as_before() -> None:
    bundle = _bundle()
    _components(bundle).remove(_by_code(bundle, "95123-6"))
    fusion, messages = _read(bundle)
    assert (fusion.kind, fusion.gene, fusion.partner, fusion.label) == (
        Kind.FUSION,
        "FGFR2",
        None,
        "FGFR2 fusion",
    )
    assert messages == []
