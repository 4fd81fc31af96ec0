"""What a report says it studied: STU2 / mCODE RegionStudied, STU3 GenomicStudy, and none stated."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_resist.domain import Kind
from fhir_resist.fhir.read import read_context
from fhir_resist.fhir.read.coverage import parse_region_description
from fhir_resist.render import context_json, coverage_text
from tests.conftest import IG, load_json

LOINC = "http://loinc.org"


def _gene(symbol: str, hgnc: str) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
        "valueCodeableConcept": {
            "coding": [{"system": "http://www.genenames.org", "code": hgnc, "display": symbol}]
        },
    }


def _absent(rid: str, symbol: str, hgnc: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "69548-6"}]},
        "subject": {"reference": "Patient/p"},
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9634-2"}]},
        "component": [_gene(symbol, hgnc)],
    }


def _region(rid: str, symbol: str, hgnc: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "53041-0", "display": "DNA region of interest panel"}]},
        "subject": {"reference": "Patient/p"},
        "component": [_gene(symbol, hgnc), *extra],
    }


def _description(text: str) -> dict[str, Any]:
    return {"code": {"coding": [{"system": LOINC, "code": "81293-3"}]}, "valueString": text}


def _report(*results: dict[str, Any]) -> list[dict[str, Any]]:
    report = {
        "resourceType": "DiagnosticReport",
        "id": "r",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "51969-4"}]},
        "subject": {"reference": "Patient/p"},
        "result": [{"reference": f"Observation/{r['id']}"} for r in results],
    }
    return [{"resourceType": "Patient", "id": "p"}, report, *results]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exon 2", ([2], [])),
        ("exons 2, 3 and 4", ([2, 3, 4], [])),
        ("KRAS exons 2-4", ([2, 3, 4], [])),
        ("exons 2 to 4; codon 600", ([2, 3, 4], [600])),
        ("codons 12, 13, 59, 61, 117 and 146.", ([], [12, 13, 59, 61, 117, 146])),
        ("exon 2 (codons 12 and 13)", None),  # a part of the exon: not read as the whole exon
        ("exon 2 hotspots", None),
        ("all coding exons", None),
        ("exons 4-2", None),
        ("2, 3", None),
        ("exons 2-", None),
    ],
)
def test_region_descriptions_are_read_only_when_nothing_but_numbers(
    text: str, expected: tuple[list[int], list[int]] | None
) -> None:
    assert parse_region_description(text, "KRAS") == expected


def test_stu2_region_studied_exon_scope_is_attached_to_its_report() -> None:
    context = read_context(
        _report(_absent("k", "KRAS", "HGNC:6407"), _region("rk", "KRAS", "HGNC:6407", _description("exon 2")))
    )
    (report,) = context.reports
    (scope,) = report.coverage.genes
    assert (scope.gene, scope.whole_gene, scope.exons, scope.codons) == ("KRAS", False, (2,), ())
    assert scope.source == "Observation/rk"
    assert [a.source for a in context.alterations] == ["Observation/k"]  # the region is not a finding
    assert "KRAS exon 2" in coverage_text(context_json(context)["reports"][0]["coverage"])


def test_ranges_in_coordinates_are_stated_but_unknown() -> None:
    ranges = {
        "code": {"coding": [{"system": LOINC, "code": "51959-5"}]},
        "valueRange": {"low": {"value": 25245274}, "high": {"value": 25245384}},
    }
    context = read_context(_report(_region("rk", "KRAS", "HGNC:6407", ranges)))
    (scope,) = context.reports[0].coverage.genes
    assert not scope.whole_gene and not scope.exons and scope.unreadable
    assert any("genomic coordinates" in m.text for m in context.messages)


def test_an_unreadable_description_is_unknown_and_said() -> None:
    context = read_context(_report(_region("rk", "KRAS", "HGNC:6407", _description("exon 2 hotspots"))))
    (scope,) = context.reports[0].coverage.genes
    assert not scope.whole_gene and not scope.exons
    assert any("'exon 2 hotspots' not read" in m.text for m in context.messages)


def test_a_report_that_states_no_scope_is_said_once() -> None:
    context = read_context(_report(_absent("k", "KRAS", "HGNC:6407"), _absent("n", "NRAS", "HGNC:7989")))
    assert not context.reports[0].coverage.stated
    said = [m for m in context.messages if "does not state what it studied" in m.text]
    assert len(said) == 1 and said[0].where == "DiagnosticReport/r"
    assert "not stated" in coverage_text(context_json(context)["reports"][0]["coverage"])


def test_the_ig_genomic_study_analyses_are_read() -> None:
    names = [
        "DiagnosticReport-somaticReport.json",
        "Procedure-somaticStudy.json",
        "Procedure-analysisTumorNormalDNA.json",
        "Procedure-analysisTumorRNA.json",
        "Patient-somaticPatient.json",
    ]
    context = read_context([load_json(IG / name) for name in names])
    (report,) = context.reports
    coverage = report.coverage
    assert [(g.gene, g.whole_gene) for g in coverage.genes] == [("ABL1", True), ("ALK", True), ("APC", True)]
    assert coverage.genes[0].kinds == (Kind.CNV, Kind.VARIANT)  # SNV, MNV, delins, CNV
    assert set(coverage.kinds) == {Kind.VARIANT, Kind.CNV, Kind.FUSION}  # the RNA analysis: fusions
    assert any("WES-FullSequencedRegion-GRCh38" in u for u in coverage.unreadable)  # a BED file
    assert any("WES-UncallableRegions-GRCh38" in u for u in coverage.uncallable)
    assert any("uncallable regions are stated" in m.text for m in context.messages)
