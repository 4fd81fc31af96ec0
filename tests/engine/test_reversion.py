"""Reversions: a second variant that restores the reading frame of a truncating variant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from fhir_resist import hgvs
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.schema import AlterationPattern, ReversionPattern, Rule
from fhir_resist.domain import Alteration, Call, Coding, Kind, Origin, PatientContext, Therapy
from fhir_resist.engine.assess import assess
from fhir_resist.engine.requirements import REVERSION_STATUS
from fhir_resist.engine.reversion import Reversion, reversion, reversions, truncation

WINDOW = 100.0


def _variant(
    coding: str | None = None,
    protein: str | None = None,
    *,
    source: str = "Observation/second",
    origin: Origin = Origin.SOMATIC,
    gene: str = "BRCA2",
    observed: date | None = None,
) -> Alteration:
    change = hgvs.parse_protein(f"p.{protein}") if protein else None
    return Alteration(
        kind=Kind.VARIANT,
        call=Call.PRESENT,
        source=source,
        gene=gene,
        protein=change,
        coding=hgvs.parse_coding(coding) if coding else None,
        codon=change.start if change else None,
        consequence=change.consequence if change else None,
        origin=origin,
        observed=observed,
        label=f"{gene} {coding or protein}",
    )


FRAMESHIFT = _variant("c.5946del", "S1982fs", source="Observation/first", origin=Origin.GERMLINE)
NONSENSE = _variant("c.4327C>T", "R1443*", source="Observation/first", origin=Origin.GERMLINE, gene="BRCA1")


@pytest.mark.parametrize(
    ("coding", "protein", "expected"),
    [
        ("c.5949_5950del", None, Reversion.RESTORES),  # -1 -2 = -3, 3 nt away
        ("c.5940_5941insA", None, Reversion.RESTORES),  # -1 +1, upstream
        ("c.5944_5951delinsTT", None, Reversion.RESTORES),  # covers it: 8 removed, 2 added
        ("c.5940_5948del", None, Reversion.RESTORES),  # covers it, 9 nt: in frame
        ("c.5940_5947del", None, Reversion.NOT_RESTORING),  # covers it, 8 nt: still shifted
        ("c.5940_5948del", "S1980*", Reversion.NOT_RESTORING),  # covers it but makes a stop
        ("c.5950del", None, Reversion.NOT_RESTORING),  # -2 in all
        ("c.7000_7002del", None, Reversion.NOT_RESTORING),  # in frame on its own, elsewhere
        ("c.6000A>G", None, Reversion.NOT_RESTORING),  # a substitution never restores a frameshift
        ("c.6550_6551del", None, Reversion.UNDETERMINED),  # frame restored by length, 600 nt away
        ("c.5950+3A>G", None, Reversion.NOT_RESTORING),  # intronic: not read as a reversion
    ],
)
def test_after_a_frameshift_by_coding_change(coding: str, protein: str | None, expected: Reversion) -> None:
    assert reversion(FRAMESHIFT, _variant(coding, protein), WINDOW) is expected


@pytest.mark.parametrize(
    ("coding", "protein", "expected"),
    [
        ("c.4321_4329del", None, Reversion.RESTORES),  # the stop codon deleted in frame
        ("c.4328G>A", None, Reversion.UNDETERMINED),  # another base of the stop codon
        ("c.4327C>G", None, Reversion.NOT_RESTORING),  # the same base: not on the same allele
        ("c.4400A>G", None, Reversion.NOT_RESTORING),  # elsewhere
        ("c.4330_4331insA", None, Reversion.NOT_RESTORING),  # a frameshift after a stop
    ],
)
def test_after_a_nonsense_change_by_coding_change(
    coding: str, protein: str | None, expected: Reversion
) -> None:
    assert reversion(NONSENSE, _variant(coding, protein, gene="BRCA1"), WINDOW) is expected


@pytest.mark.parametrize(
    ("first", "protein", "expected"),
    [
        (FRAMESHIFT, None, Reversion.UNDETERMINED),  # nothing readable
        (FRAMESHIFT, "T1986fs", Reversion.UNDETERMINED),  # a second frameshift: lengths unknown
        (FRAMESHIFT, "R2000Q", Reversion.NOT_RESTORING),  # in frame, elsewhere
        (FRAMESHIFT, "S1982_T1986del", Reversion.UNDETERMINED),  # in frame over the first
        (FRAMESHIFT, "S1982?", Reversion.UNDETERMINED),  # unknown effect
        (NONSENSE, "E1440_R1443del", Reversion.RESTORES),  # the stop codon removed
        (NONSENSE, "R1443_E1444delins*", Reversion.NOT_RESTORING),
        (NONSENSE, "R1443L", Reversion.UNDETERMINED),  # another base: the codon is not known
        (NONSENSE, "R1450Q", Reversion.NOT_RESTORING),
        (NONSENSE, "E1444fs", Reversion.NOT_RESTORING),
    ],
)
def test_without_both_coding_changes_only_the_protein_changes_decide(
    first: Alteration, protein: str | None, expected: Reversion
) -> None:
    second = replace(_variant(None, protein), gene=first.gene)
    assert reversion(first, second, WINDOW) is expected


def test_a_variant_without_a_coding_change_on_either_side_is_decided_by_protein() -> None:
    first = replace(FRAMESHIFT, coding=None)
    assert reversion(first, _variant("c.7000_7002del", "R2334del"), WINDOW) is Reversion.NOT_RESTORING


def test_a_missense_original_or_the_same_variant_is_never_reverted() -> None:
    missense = _variant("c.5000A>G", "K1667R", source="Observation/first")
    assert truncation(missense) is None
    assert reversion(missense, _variant("c.5001_5002insA"), WINDOW) is Reversion.NOT_RESTORING
    again = replace(FRAMESHIFT, source="Observation/again", origin=Origin.SOMATIC)
    assert reversion(FRAMESHIFT, again, WINDOW) is Reversion.NOT_RESTORING


def test_of_two_frameshifts_that_restore_each_other_only_the_later_is_the_reversion() -> None:
    pattern = ReversionPattern()
    first = _variant("c.6174del", "F2058fs", source="Observation/a", observed=date(2025, 1, 1))
    later = _variant("c.6180_6181insA", "L2060fs", source="Observation/b", observed=date(2026, 1, 1))
    present = [first, later]
    assert reversions(pattern, later, present, WINDOW) == {Reversion.RESTORES: (first,)}
    assert reversions(pattern, first, present, WINDOW) == {}


def test_the_pattern_chooses_the_original_by_consequence_origin_and_gene() -> None:
    second = _variant("c.5949_5950del")
    other_gene = replace(FRAMESHIFT, gene="BRCA1", source="Observation/brca1")
    present = [FRAMESHIFT, other_gene, second]
    assert reversions(ReversionPattern(origin="somatic"), second, present, WINDOW) == {}
    assert reversions(ReversionPattern(origin="germline"), second, present, WINDOW) == {
        Reversion.RESTORES: (FRAMESHIFT,)
    }
    assert reversions(ReversionPattern(consequences=("nonsense",)), second, present, WINDOW) == {}
    somatic_first = replace(FRAMESHIFT, origin=Origin.SOMATIC, vaf=0.5)
    assert reversions(ReversionPattern(origin="germline"), second, [somatic_first], WINDOW) == {}


def test_reverts_is_for_variant_patterns_and_a_rule_s_alterations_only(catalogue: Catalogue) -> None:
    with pytest.raises(ValidationError, match="variant patterns only"):
        AlterationPattern(kind="cnv", gene="BRCA2", cnv="deletion", reverts=ReversionPattern())
    rule = catalogue.rule("hrd-brca-reversion-parp")
    assert rule is not None
    data = rule.model_dump(by_alias=True, exclude_none=True)
    data["requires"] = {"all_of": [data["alterations"][0]]}
    with pytest.raises(ValidationError, match="rule's alterations only"):
        Rule.model_validate(data)


def _context(*alterations: Alteration, drug: str = "olaparib", tumour: str = "OVT") -> PatientContext:
    therapy = Therapy(
        source="MedicationRequest/parpi",
        resource_type="MedicationRequest",
        status="active",
        codings=(Coding(None, None, drug),),
        text=drug,
    )
    return PatientContext(
        patient="Patient/p", alterations=alterations, therapies=(therapy,), tumour_override=tumour
    )


AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_reversion_is_a_finding_that_names_both_variants(catalogue: Catalogue) -> None:
    second = _variant("c.5949_5950del")
    result = assess(_context(FRAMESHIFT, second), catalogue, AT)
    finding = next(f for f in result.findings if f.rule.id == "hrd-brca-reversion-parp")
    assert finding.observations == ("Observation/second", "Observation/first")
    assert [i.severity.value for i in result.issues if i.finding is finding] == ["high"]
    assert not [n for n in result.data_requirements if n.code == REVERSION_STATUS]


@pytest.mark.parametrize(
    "second",
    [
        _variant(None, "T1986fs"),  # no coding change
        _variant("c.6550_6551del"),  # restores the frame by length, far away
    ],
)
def test_an_undetermined_reversion_is_a_data_requirement_not_a_finding(
    catalogue: Catalogue, second: Alteration
) -> None:
    result = assess(_context(FRAMESHIFT, second), catalogue, AT)
    assert not [f for f in result.findings if f.rule.id.startswith("hrd-brca-reversion")]
    (need,) = [n for n in result.data_requirements if n.code == REVERSION_STATUS]
    assert "BRCA2 c.5946del" in need.reason
    assert "(olaparib)" in need.reason


def test_no_data_requirement_without_a_drug_of_the_rule_or_outside_its_tumours(catalogue: Catalogue) -> None:
    second = _variant(None, "T1986fs")
    for context in (
        _context(FRAMESHIFT, second, drug="paclitaxel"),
        _context(FRAMESHIFT, second, tumour="COAD"),
        _context(FRAMESHIFT, _variant("c.7000_7002del")),
    ):
        result = assess(context, catalogue, AT)
        assert not [n for n in result.data_requirements if n.code == REVERSION_STATUS]
