"""Conditions of countermeasures judged against a patient's facts: met, not met or unknown."""

from __future__ import annotations

from datetime import date

import pytest

from fhir_resist import Catalogue
from fhir_resist.catalogue.schema import Biomarker, PriorTherapy
from fhir_resist.domain import Alteration, Call, Kind, Therapy
from fhir_resist.engine.conditions import Facts, Outcome, judge
from fhir_resist.engine.regimens import Regimen


def _regimen(*drugs: str, current: bool) -> Regimen:
    therapies = tuple(
        Therapy(
            source=f"MedicationStatement/{d}",
            resource_type="MedicationStatement",
            status="completed",
            codings=(),
            text=d,
        )
        for d in drugs
    )
    end = None if current else date(2025, 6, 1)
    return Regimen(therapies, drugs, current, date(2025, 1, 1), end)


def _facts(catalogue: Catalogue, *regimens: Regimen) -> Facts:
    return Facts(catalogue, "COAD", (), (), regimens)


@pytest.mark.parametrize(
    ("regimens", "received", "outcome"),
    [
        # received before: met when recorded; when nothing is recorded the history may simply be
        # missing from the input, so it is unknown (conditional), never a reason to withhold
        ((("sunitinib",), False), True, Outcome.MET),
        ((("imatinib",), False), True, Outcome.UNKNOWN),
        (None, True, Outcome.UNKNOWN),
        # not received: not met when recorded (now or before), met otherwise
        ((("sunitinib",), True), False, Outcome.NOT_MET),
        ((("sunitinib",), False), False, Outcome.NOT_MET),
        ((("imatinib",), False), False, Outcome.MET),
        (None, False, Outcome.MET),
    ],
)
def test_prior_therapy(
    catalogue: Catalogue, regimens: tuple[tuple[str, ...], bool] | None, received: bool, outcome: Outcome
) -> None:
    facts = _facts(catalogue, *([_regimen(*regimens[0], current=regimens[1])] if regimens else []))
    verdict = judge(PriorTherapy(fact="prior-therapy", drugs=("sunitinib",), received=received), facts, None)
    assert verdict.outcome is outcome
    if outcome is Outcome.UNKNOWN:
        assert verdict.need is not None and verdict.need.code == "countermeasure-prior-lines"
        assert "sunitinib" in verdict.need.reason
    else:
        assert verdict.need is None


def _absent(gene: str, *, codon: int | None = None, exon: int | None = None) -> Alteration:
    return Alteration(
        kind=Kind.VARIANT,
        call=Call.ABSENT,
        source=f"Observation/{gene}-{codon or exon}",
        gene=gene,
        codon=codon,
        exon=exon,
        label=f"{gene} negative",
    )


KRAS_HOTSPOTS = {"kind": "variant", "gene": "KRAS", "codons": [12, 13, 59, 61, 117, 146]}


@pytest.mark.parametrize(
    ("negatives", "outcome"),
    [
        # one codon tested is no negative for the others: the region is not covered
        ([_absent("KRAS", codon=12)], Outcome.UNKNOWN),
        ([_absent("KRAS", codon=c) for c in (12, 13, 59, 61, 117, 146)], Outcome.MET),
        # exon 2 alone covers codons 12 and 13 only
        ([_absent("KRAS", exon=2)], Outcome.UNKNOWN),
        ([_absent("KRAS", exon=e) for e in (2, 3, 4)], Outcome.MET),
        ([], Outcome.UNKNOWN),
    ],
)
def test_a_negative_counts_only_for_the_region_it_covers(
    catalogue: Catalogue, negatives: list[Alteration], outcome: Outcome
) -> None:
    criterion = Biomarker.model_validate(
        {"fact": "biomarker", "alteration": KRAS_HOTSPOTS, "state": "absent"}
    )
    facts = Facts(catalogue, "COAD", (), tuple(negatives), ())
    verdict = judge(criterion, facts, None)
    assert verdict.outcome is outcome
    if outcome is Outcome.UNKNOWN and negatives:
        assert verdict.need is not None
        assert verdict.need.reason == (
            "KRAS codons 12, 13, 59, 61, 117, 146: the negative results in the input do not cover it all"
        )
