"""Every Genomics Reporting IG (STU3) example: what a molecular pathologist would list, field by field."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_resist import Catalogue
from fhir_resist.domain import Severity
from fhir_resist.fhir.read import read_context
from tests.conftest import IG, load_json

# file -> the alterations (kind, call, gene, protein, origin, vaf, cnv, copy number, msi, tmb) it holds
EXPECTED: dict[str, list[tuple[Any, ...]]] = {
    "Observation-EGFR-L858R-var.json": [
        ("variant", "present", "EGFR", "L858R", "somatic", 0.066, None, None, None, None)
    ],
    "Observation-ATR-insertion-var.json": [
        ("variant", "present", "ATR", None, "somatic", 0.075, None, None, None, None)
    ],
    "Observation-NOTCH1-uncertain-var.json": [
        ("variant", "present", "NOTCH1", "A1931T", "somatic", 0.15, None, None, None, None)
    ],
    "Observation-NTHL1-snv-var.json": [
        ("variant", "present", "NTHL1", "W243*", "somatic", None, None, None, None, None)
    ],
    "Observation-SNVexample.json": [
        ("variant", "present", "AR", "V3M", "somatic", 0.44, None, None, None, None)
    ],
    "Observation-STAG2-insertion-var.json": [
        ("variant", "present", "STAG2", "S1178*", "somatic", 0.08, None, None, None, None)
    ],
    "Observation-ZFHX3-uncertain-var.json": [
        ("variant", "present", "ZFHX3", "G585S", "somatic", 0.1, None, None, None, None)
    ],
    "Observation-MSH2-del-var.json": [
        ("variant", "present", "MSH2", None, "somatic", None, None, None, None, None)
    ],
    "Observation-Variant-Somatic-Clinical-Trial.json": [
        ("variant", "present", "FGFR2", None, "somatic", None, None, None, None, None)
    ],
    "Observation-ROS1-Fusion-var.json": [
        ("fusion", "present", "ROS1", None, "somatic", None, None, None, None, None)
    ],
    "Observation-ExampleSomaticCNV.json": [
        ("cnv", "present", None, None, "somatic", None, "gain", 3.0, None, None)
    ],
    "Observation-ExampleGermlineCNV.json": [
        ("cnv", "present", None, None, "germline", None, "gain", 3.0, None, None)
    ],
    "Observation-ExampleSomaticDEL.json": [
        ("cnv", "present", None, None, "somatic", None, "loss", 1.0, None, None)
    ],
    "Observation-MSIExample.json": [
        ("msi", "present", None, None, "unknown", None, None, None, "msi-high", None)
    ],
    "Observation-MicrosatelliteInstabilityExample01.json": [
        ("msi", "present", None, None, "unknown", None, None, None, "stable", None)
    ],
    "Observation-gx-genomic-msi-mcode-stu2.json": [
        ("msi", "present", None, None, "unknown", None, None, None, "msi-high", None)
    ],
    "Observation-TMBExample.json": [("tmb", "present", None, None, "unknown", None, None, None, None, 29.8)],
    "Observation-TumorMutationBurdenExample01.json": [
        ("tmb", "present", None, None, "unknown", None, None, None, None, 250.0)
    ],
}

# Findings without a gene (coordinates, ISCN or g.HGVS only): read, reported as not matchable.
UNMATCHABLE = [
    "Observation-ExampleGermlineDEL.json",
    "Observation-ExampleGermlineINV.json",
    "Observation-ExampleSomaticINV.json",
    "Observation-ISCN-CMLExample.json",
    "Observation-VariantExample.json",
    "Observation-VariantExample1.json",
]


def _row(a: Any) -> tuple[Any, ...]:
    return (
        a.kind.value,
        a.call.value,
        a.gene,
        a.protein.text if a.protein else None,
        a.origin.value,
        a.vaf,
        a.cnv.value if a.cnv else None,
        a.copy_number,
        a.msi.value if a.msi else None,
        a.tmb,
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_ig_example_alterations(name: str, catalogue: Catalogue) -> None:
    context = read_context([load_json(IG / name)], rules=catalogue.reading)
    assert [_row(a) for a in context.alterations] == EXPECTED[name]
    assert not [m for m in context.messages if m.severity is Severity.ERROR]


@pytest.mark.parametrize("name", UNMATCHABLE)
def test_ig_examples_without_a_gene_say_so(name: str) -> None:
    context = read_context([load_json(IG / name)])
    assert len(context.alterations) == 1
    assert any("no gene" in m.text or "no gene or fusion" in m.text for m in context.messages)


def test_iscn_karyotype_is_kept_and_no_fusion_is_inferred() -> None:
    context = read_context([load_json(IG / "Observation-ISCN-CMLExample.json")])
    (alteration,) = context.alterations
    assert alteration.label == "? karyotype 46,XX,t(9;22)(q34;q4)"
    assert alteration.gene is None and alteration.partner is None
    (message,) = context.messages
    assert message.where.endswith("component:variant-iscn")
    assert "no gene or fusion is inferred" in message.text


def test_every_ig_example_reads_without_error() -> None:
    for path in sorted(IG.glob("*.json")):
        context = read_context([load_json(path)])
        assert not [m for m in context.messages if m.severity is Severity.ERROR], path.name


def test_lab_implications_in_ig_examples() -> None:
    context = read_context([load_json(IG / "Observation-EGFR-L858R-therapuDrug1.json")])
    (lab,) = context.lab_implications
    assert (lab.assertion, lab.drug_text, lab.derived_from) == (
        "responsive",
        "Gefitinib",
        ("Observation/EGFR-L858R-var",),
    )


def test_complex_variant_grouping_is_read_through_its_members() -> None:
    context = read_context([load_json(IG / "Bundle-bundle-cgexample.json")])
    sources = [a.source for a in context.alterations]
    assert "Observation/complex-variant" not in sources
    assert "Observation/complex-component-D" in sources
