"""Negatives judged against what their report covered: exon 2 only is not extended RAS testing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir_resist import Catalogue, evaluate
from tests.conftest import EXAMPLES, load_json
from tests.fhir.test_read_coverage import _absent, _description, _region

AT = datetime(2026, 11, 1, 9, tzinfo=UTC)
RAS = "crc-extended-ras-braf-before-anti-egfr"
LOINC = "http://loinc.org"


def _patient(*results: dict[str, Any]) -> list[dict[str, Any]]:
    """Colorectal cancer on cetuximab, with one genomic report holding ``results``."""
    return [
        {"resourceType": "Patient", "id": "p"},
        {
            "resourceType": "Condition",
            "id": "c",
            "subject": {"reference": "Patient/p"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "363406005"}]},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr",
            "status": "active",
            "intent": "order",
            "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "318341"}]
            },
        },
        {
            "resourceType": "DiagnosticReport",
            "id": "r",
            "status": "final",
            "subject": {"reference": "Patient/p"},
            "code": {"coding": [{"system": LOINC, "code": "51969-4"}]},
            "result": [{"reference": f"Observation/{r['id']}"} for r in results],
        },
        *results,
    ]


def _braf_v600e_absent() -> dict[str, Any]:
    obs = _absent("b", "BRAF", "HGNC:1097")
    obs["component"].append(
        {
            "code": {"coding": [{"system": LOINC, "code": "48005-3"}]},
            "valueCodeableConcept": {
                "coding": [{"system": "http://varnomen.hgvs.org", "code": "p.Val600Glu"}]
            },
        }
    )
    return obs


def _ras(exons: str) -> list[dict[str, Any]]:
    return [
        _absent("k", "KRAS", "HGNC:6407"),
        _absent("n", "NRAS", "HGNC:7989"),
        _braf_v600e_absent(),
        _region("rk", "KRAS", "HGNC:6407", _description(exons)),
        _region("rn", "NRAS", "HGNC:7989", _description(exons)),
    ]


def _ras_need(resources: list[dict[str, Any]], catalogue: Catalogue) -> str | None:
    assessment = evaluate(resources, catalogue=catalogue, at=AT)
    assert assessment.tumour is not None and assessment.tumour.startswith("CO")  # colorectal
    return next((d.reason for d in assessment.data_requirements if d.code == RAS), None)


def test_exon_2_only_negatives_ask_for_extended_ras_testing(catalogue: Catalogue) -> None:
    reason = _ras_need(_patient(*_ras("exon 2")), catalogue)
    assert reason is not None
    assert "KRAS exons 3 and 4, NRAS exons 3 and 4 not covered" in reason


def test_exon_2_to_4_negatives_satisfy_the_requirement(catalogue: Catalogue) -> None:
    assert _ras_need(_patient(*_ras("exons 2, 3 and 4")), catalogue) is None


def test_negatives_of_a_report_that_states_no_scope_are_unknown(catalogue: Catalogue) -> None:
    resources = _patient(
        _absent("k", "KRAS", "HGNC:6407"), _absent("n", "NRAS", "HGNC:7989"), _braf_v600e_absent()
    )
    reason = _ras_need(resources, catalogue)
    assert reason is not None
    assert "KRAS exons 2-4, NRAS exons 2-4 not covered" in reason
    assert "no region studied is stated for Observation/k, Observation/n" in reason
    assessment = evaluate(resources, catalogue=catalogue, at=AT)
    assert sum("does not state what it studied" in m.text for m in assessment.messages) == 1


def test_a_whole_gene_region_with_nothing_found_is_a_negative(catalogue: Catalogue) -> None:
    resources = _patient(
        _region("rk", "KRAS", "HGNC:6407"), _region("rn", "NRAS", "HGNC:7989"), _braf_v600e_absent()
    )
    assert _ras_need(resources, catalogue) is None


def test_hotspot_codons_alone_do_not_cover_the_exons(catalogue: Catalogue) -> None:
    resources = _patient(*_ras("codons 12, 13 and 61"))
    reason = _ras_need(resources, catalogue)
    assert reason is not None and "KRAS exons 2-4" in reason


def test_a_braf_region_without_codon_600_is_not_a_v600e_negative(catalogue: Catalogue) -> None:
    resources = _patient(
        *_ras("exons 2-4")[:2],
        *_ras("exons 2-4")[3:],
        _region("rb", "BRAF", "HGNC:1097", _description("exon 11")),
    )
    reason = _ras_need(resources, catalogue)
    assert reason is not None and "BRAF codon 600 not covered" in reason


def test_the_exon_2_only_example_asks_for_extended_ras_and_the_wild_type_one_does_not(
    catalogue: Catalogue,
) -> None:
    exon2 = evaluate(
        [load_json(EXAMPLES / "crc-ras-exon2-only-panitumumab.json")], catalogue=catalogue, at=AT
    )
    (need,) = [d for d in exon2.data_requirements if d.code == RAS]
    assert "KRAS exons 3 and 4, NRAS exons 3 and 4 not covered" in need.reason
    wild = evaluate([load_json(EXAMPLES / "crc-ras-wt-panitumumab.json")], catalogue=catalogue, at=AT)
    assert RAS not in {d.code for d in wild.data_requirements}
