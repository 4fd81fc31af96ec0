"""``read_context(wanted=...)``: a simple variant in a gene ``wanted`` refuses is left unread; a
fusion, a copy-number change, a variant naming no gene or two, and every wanted gene's are read."""

from __future__ import annotations

from typing import Any

from fhir_resist import terminology
from fhir_resist.domain import Kind
from fhir_resist.fhir.read import read_context

LOINC = "http://loinc.org"


def _component(code: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"code": {"coding": [{"system": LOINC, "code": code}]}, **value}


def _coded(code: str, system: str = LOINC, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code} | ({"display": display} if display else {})
    return {"valueCodeableConcept": {"coding": [coding]}}


def _gene(symbol: str, hgnc_id: str) -> dict[str, Any]:
    return _component(terminology.GENE_STUDIED, _coded(hgnc_id, terminology.HGNC, symbol))


def _variant(oid: str, *components: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": terminology.VARIANT}]},
        "subject": {"reference": "Patient/p"},
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": terminology.PRESENT}]},
        "component": list(components),
    }


GAIN = terminology.SO_COPY_NUMBER_GAIN
TTN = _gene("TTN", "HGNC:12403")
KRAS = _gene("KRAS", "HGNC:6407")
P_CHANGE = _component(terminology.P_HGVS, _coded("NP_001254479.2:p.Arg100His", terminology.HGVS))
INPUT = [
    {"resourceType": "Patient", "id": "p"},
    _variant("ttn", TTN, P_CHANGE),  # the one simple variant outside: not read
    _variant("kras", KRAS, _component(terminology.P_HGVS, _coded("p.Gly12Asp", terminology.HGVS))),
    _variant("no-gene", P_CHANGE),
    _variant("two-genes", TTN, _gene("ALK", "HGNC:427")),
    _variant("ttn-fusion", TTN, _component(terminology.GENE_FUSION, _coded("TTN::ALK"))),
    _variant("ttn-cnv", TTN, _component(terminology.COPY_NUMBER, {"valueQuantity": {"value": 9}})),
    _variant(
        "ttn-gain", TTN, _component(terminology.DNA_CHANGE_TYPE, _coded(terminology.SO_COPY_NUMBER_GAIN))
    ),
    _variant("ttn-text", TTN, _component(terminology.VARIATION_CODE, {"valueString": "TTN::ALK fusion"})),
]


def test_only_simple_variants_in_unwanted_genes_are_left_unread() -> None:
    asked: list[tuple[str | None, str | None]] = []

    def wanted(symbol: str | None, hgnc_id: str | None) -> bool:
        asked.append((symbol, hgnc_id))
        return symbol == "KRAS"

    whole = read_context(INPUT)
    scoped = read_context(INPUT, wanted=wanted)
    read = {a.source for a in scoped.alterations}
    assert {a.source for a in whole.alterations} - read == {"Observation/ttn"}
    assert {a.source: a for a in scoped.alterations} == {
        a.source: a for a in whole.alterations if a.source != "Observation/ttn"
    }
    assert ("TTN", "HGNC:12403") in asked and ("KRAS", "HGNC:6407") in asked
    kinds = {a.source: a.kind for a in scoped.alterations}
    assert kinds["Observation/ttn-fusion"] is Kind.FUSION and kinds["Observation/ttn-gain"] is Kind.CNV


def test_without_wanted_every_variant_is_read() -> None:
    assert len(read_context(INPUT).alterations) == len(INPUT) - 1
