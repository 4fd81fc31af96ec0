"""Serial samples: history order, clearance, and negatives that prove nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fhir_resist import Catalogue, hgvs
from fhir_resist.domain import Alteration, Call, Kind, PatientContext, Specimen, SpecimenType
from fhir_resist.engine.longitudinal import by_gene, history, sample_date

G12D = hgvs.parse_protein("p.G12D")


def _kras(source: str, call: Call, specimen: str, vaf: float | None = None) -> Alteration:
    return Alteration(
        kind=Kind.VARIANT,
        call=call,
        source=source,
        gene="KRAS",
        protein=G12D,
        codon=12,
        specimen=specimen,
        vaf=vaf,
    )


def _context(*alterations: Alteration, fraction: float | None = None) -> PatientContext:
    return PatientContext(
        patient="Patient/p",
        alterations=alterations,
        specimens=(
            Specimen("Specimen/t1", SpecimenType.TISSUE, date(2025, 1, 10)),
            Specimen("Specimen/p2", SpecimenType.PLASMA, date(2025, 9, 1), tumour_fraction=fraction),
            Specimen("Specimen/t3", SpecimenType.TISSUE, date(2026, 2, 1)),
        ),
    )


def test_history_is_ordered_by_sample_date_with_vaf_trend() -> None:
    later = _kras("Observation/b", Call.PRESENT, "Specimen/p2", 0.04)
    first = _kras("Observation/a", Call.ABSENT, "Specimen/t1")
    context = _context(later, first)
    h = history(later, context.alterations, context, 0.1)
    assert [s.source for s in h.samples] == ["Observation/a", "Observation/b"]
    assert h.first_seen == date(2025, 9, 1)
    assert h.vaf_trend == (None, 0.04)
    assert not h.cleared


def test_tissue_negative_after_positive_is_cleared() -> None:
    seen = _kras("Observation/b", Call.PRESENT, "Specimen/p2")
    gone = _kras("Observation/c", Call.ABSENT, "Specimen/t3")
    context = _context(seen, gone)
    assert history(seen, context.alterations, context, 0.1).cleared


def test_plasma_negative_at_unknown_tumour_fraction_is_not_proof_of_absence() -> None:
    seen = _kras("Observation/a", Call.PRESENT, "Specimen/t1")
    gone = _kras("Observation/b", Call.ABSENT, "Specimen/p2")
    context = _context(seen, gone)
    h = history(seen, context.alterations, context, 0.1)
    assert h.unconfirmed_negative and not h.cleared
    adequate = _context(seen, gone, fraction=0.2)
    assert history(seen, adequate.alterations, adequate, 0.1).cleared


def test_sample_date_falls_back_and_says_so() -> None:
    undated = Alteration(
        kind=Kind.VARIANT, call=Call.PRESENT, source="Observation/x", observed=date(2025, 3, 3)
    )
    when, source = sample_date(undated, PatientContext(patient=None))
    assert when == date(2025, 3, 3)
    assert "no specimen collection date" in source


def test_a_history_compares_its_variant_only_with_its_genes_variants(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Findings' histories look their variant up among the variants of its gene: a 1,600-variant
    report takes a few hundred comparisons (scanning every variant for each finding took about
    75,000, and minutes for a 50,000-variant report)."""
    from bench.generate import panel_report
    from fhir_resist import evaluate
    from fhir_resist.engine import longitudinal, match

    compared = [0]

    def counted(a: Alteration, b: Alteration) -> bool:
        compared[0] += 1
        return match.same_locus(a, b)

    monkeypatch.setattr(longitudinal, "same_locus", counted)
    evaluate([panel_report(1600)], catalogue=catalogue, at=datetime(2026, 11, 30, tzinfo=UTC))
    assert 0 < compared[0] < 1600


def test_by_gene_keeps_every_alteration_in_order() -> None:
    kras = [_kras(f"Observation/k{i}", Call.PRESENT, "Specimen/t1") for i in range(3)]
    nras = Alteration(kind=Kind.VARIANT, call=Call.PRESENT, source="Observation/n", gene="NRAS", codon=61)
    groups = by_gene([kras[0], nras, kras[1], kras[2]])
    assert groups == {(Kind.VARIANT, "KRAS"): tuple(kras), (Kind.VARIANT, "NRAS"): (nras,)}
