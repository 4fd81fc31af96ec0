"""Pattern matching of single alterations against catalogue patterns."""

from __future__ import annotations

import pytest

from fhir_resist import hgvs
from fhir_resist.catalogue.schema import AlterationPattern, Exon, Gene
from fhir_resist.domain import Alteration, Call, CnvCall, Kind, MsiStatus, Origin
from fhir_resist.engine.match import Indexed, exon_of, expand_consequences, fits, same_locus


def _variant(
    protein: str, gene: str = "KRAS", origin: Origin = Origin.SOMATIC, vaf: float | None = None
) -> Alteration:
    change = hgvs.parse_protein(protein)
    return Alteration(
        kind=Kind.VARIANT,
        call=Call.PRESENT,
        source="Observation/x",
        gene=gene,
        protein=change,
        codon=change.start,
        consequence=change.consequence,
        origin=origin,
        vaf=vaf,
    )


RAS = AlterationPattern(kind="variant", gene="KRAS", codons=(12, 13, 59, 61, 117, 146), origin="somatic")


@pytest.mark.parametrize(
    ("protein", "expected"),
    [
        ("p.G12D", True),
        ("p.Gly13Asp", True),
        ("p.Q61H", True),
        ("p.A146T", True),
        ("p.K117N", True),
        ("p.G12=", False),
        ("p.V14I", False),
        ("p.R68S", False),
    ],
)
def test_codon_pattern(protein: str, expected: bool) -> None:
    assert fits(RAS, _variant(protein), "KRAS", None) is expected


def test_gene_and_origin_must_agree() -> None:
    assert not fits(RAS, _variant("p.G12D", gene="NRAS"), "NRAS", None)
    assert not fits(RAS, _variant("p.G12D", origin=Origin.GERMLINE), "KRAS", None)
    assert fits(RAS, _variant("p.G12D", origin=Origin.UNKNOWN), "KRAS", None)


def test_exact_protein_and_consequence_filters() -> None:
    g12c = AlterationPattern(kind="variant", gene="KRAS", proteins=("G12C",))
    assert fits(g12c, _variant("p.Gly12Cys"), "KRAS", None)
    assert not fits(g12c, _variant("p.G12D"), "KRAS", None)
    truncating = AlterationPattern(kind="variant", gene="KRAS", consequences=("truncating",))
    assert fits(truncating, _variant("p.G12*"), "KRAS", None)
    assert not fits(truncating, _variant("p.G12D"), "KRAS", None)
    assert expand_consequences(("inframe",)) >= {"inframe-deletion", "inframe-insertion"}


def test_exon_from_gene_map() -> None:
    gene = Gene(
        exons=(Exon(number=2, codon_start=1, codon_end=37), Exon(number=3, codon_start=38, codon_end=97))
    )
    assert exon_of(gene, 12) == 2 and exon_of(gene, 61) == 3 and exon_of(gene, 200) is None
    exon3 = AlterationPattern(kind="variant", gene="KRAS", exons=(3,))
    assert fits(exon3, _variant("p.Q61H"), "KRAS", gene)
    assert not fits(exon3, _variant("p.G12D"), "KRAS", gene)


def test_min_vaf() -> None:
    pattern = AlterationPattern(kind="variant", gene="KRAS", codons=(12,), min_vaf=0.1)
    assert not fits(pattern, _variant("p.G12D", vaf=0.05), "KRAS", None)
    assert fits(pattern, _variant("p.G12D", vaf=0.2), "KRAS", None)


def _cnv(call: CnvCall, copies: float | None) -> Alteration:
    return Alteration(
        kind=Kind.CNV, call=Call.PRESENT, source="Observation/c", gene="ERBB2", cnv=call, copy_number=copies
    )


def test_copy_number_patterns() -> None:
    amp = AlterationPattern(kind="cnv", gene="ERBB2", cnv="amplification", min_copy_number=6)
    assert fits(amp, _cnv(CnvCall.AMPLIFICATION, 18), "ERBB2", None)
    assert not fits(amp, _cnv(CnvCall.AMPLIFICATION, 5), "ERBB2", None)
    assert not fits(amp, _cnv(CnvCall.GAIN, 3), "ERBB2", None)
    loss = AlterationPattern(kind="cnv", gene="ERBB2", cnv="loss")
    assert fits(loss, _cnv(CnvCall.DELETION, 0), "ERBB2", None)


def test_msi_and_fusion_patterns() -> None:
    msi = AlterationPattern(kind="msi", msi="msi-high")
    high = Alteration(kind=Kind.MSI, call=Call.PRESENT, source="Observation/m", msi=MsiStatus.HIGH)
    stable = Alteration(kind=Kind.MSI, call=Call.PRESENT, source="Observation/m", msi=MsiStatus.STABLE)
    assert fits(msi, high, None, None) and not fits(msi, stable, None, None)
    fusion = AlterationPattern(kind="fusion", gene="ALK", partner="EML4")
    eml4_alk = Alteration(
        kind=Kind.FUSION, call=Call.PRESENT, source="Observation/f", gene="EML4", partner="ALK"
    )
    assert fits(fusion, eml4_alk, "EML4", None)
    assert fits(AlterationPattern(kind="fusion", gene="ALK"), eml4_alk, "EML4", None)


def test_same_locus() -> None:
    assert same_locus(_variant("p.G12D"), _variant("p.Gly12Asp"))
    assert not same_locus(_variant("p.G12D"), _variant("p.G12V"))
    assert same_locus(_cnv(CnvCall.AMPLIFICATION, 12), _cnv(CnvCall.GAIN, 3))


def _fusion(gene: str, partner: str, source: str) -> Alteration:
    return Alteration(kind=Kind.FUSION, call=Call.PRESENT, source=source, gene=gene, partner=partner)


def test_indexed_finds_what_trying_every_alteration_in_order_finds() -> None:
    panel = [
        _variant("p.G12D", gene="NRAS"),
        _fusion("EML4", "ALK", "Observation/f1"),
        _variant("p.V600E", gene="BRAF"),
        _variant("p.G12C"),
        _fusion("ALK", "ALK", "Observation/f2"),  # the same gene twice: listed once
        _variant("p.G13D"),
        Alteration(kind=Kind.MSI, call=Call.PRESENT, source="Observation/m", msi=MsiStatus.HIGH),
    ]
    indexed = Indexed(panel)
    alk = AlterationPattern(kind="fusion", gene="ALK")
    any_gene = AlterationPattern(kind="msi", msi="msi-high")
    egfr = AlterationPattern(kind="variant", gene="EGFR")
    patterns = [(RAS,), (alk,), (any_gene,), (RAS, alk), (egfr,), (alk, any_gene)]
    for wanted in patterns:
        brute = next((a for a in panel for p in wanted if fits(p, a, a.gene, None)), None)
        assert indexed.first_fit(wanted, {}) is brute
    assert [a.source for a in indexed.candidates((alk,))] == ["Observation/f1", "Observation/f2"]
    assert indexed.candidates((RAS, alk))[0].gene == "EML4"  # input order across the patterns' genes
    assert len(indexed.candidates((any_gene,))) == len(panel)  # a pattern naming no gene: every one
    assert indexed.first_fit((RAS,), {}) is panel[3]
