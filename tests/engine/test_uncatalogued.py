"""New uncatalogued variants in resistance genes: a low issue for expert review, or a message."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fhir_resist import hgvs
from fhir_resist.catalogue.index import Catalogue
from fhir_resist.domain import (
    Alteration,
    Call,
    Kind,
    Origin,
    PatientContext,
    Severity,
    Specimen,
    SpecimenType,
    Therapy,
)
from fhir_resist.engine.assess import assess
from fhir_resist.engine.model import Assessment, IssueSeverity, TimingCall

AT = datetime(2025, 10, 1, tzinfo=UTC)
BASELINE = Specimen("Specimen/s1", SpecimenType.TISSUE, date(2025, 1, 10))
PROGRESSION = Specimen("Specimen/s2", SpecimenType.TISSUE, date(2025, 9, 1))


def _variant(
    gene: str,
    protein: str | None,
    source: str,
    specimen: Specimen,
    *,
    call: Call = Call.PRESENT,
    origin: Origin = Origin.SOMATIC,
) -> Alteration:
    change = hgvs.parse_protein(f"p.{protein}") if protein else None
    return Alteration(
        kind=Kind.VARIANT,
        call=call,
        source=source,
        gene=gene,
        protein=change,
        codon=change.codons[0] if change else None,
        consequence="missense" if change else None,
        origin=origin,
        specimen=specimen.source,
        label=f"{gene} p.{protein}" if protein else f"{gene} (no variant detected)",
    )


def _therapy(name: str, start: date = date(2025, 3, 1), source: str | None = None) -> Therapy:
    return Therapy(
        source=source or f"MedicationStatement/{name}",
        resource_type="MedicationStatement",
        status="active",
        codings=(),
        text=name,
        start=start,
    )


def _assess(
    catalogue: Catalogue, tumour: str, therapies: tuple[Therapy, ...], *alterations: Alteration
) -> Assessment:
    context = PatientContext(
        patient="Patient/p",
        alterations=alterations,
        therapies=therapies,
        specimens=(BASELINE, PROGRESSION),
        tumour_override=tumour,
    )
    return assess(context, catalogue, AT)


ON_BRAF_MEK = (_therapy("dabrafenib"), _therapy("trametinib"))
V600E = _variant("BRAF", "V600E", "Observation/braf-1", BASELINE)
K57N_LATER = _variant("MAP2K1", "K57N", "Observation/map2k1-2", PROGRESSION)
K57N_ABSENT_BEFORE = _variant("MAP2K1", "K57N", "Observation/map2k1-1", BASELINE, call=Call.ABSENT)


def _uncertain_messages(assessment: Assessment) -> list[str]:
    return [m.text for m in assessment.messages if "not in the catalogue" in m.text]


def test_map2k1_k57n_appearing_on_dabrafenib_trametinib_is_a_low_issue_without_countermeasures(
    catalogue: Catalogue,
) -> None:
    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, K57N_ABSENT_BEFORE, K57N_LATER)
    assert {i.therapy.text for i in result.uncertain} == {"dabrafenib", "trametinib"}
    for issue in result.uncertain:
        assert issue.severity is IssueSeverity.LOW
        assert issue.timing is TimingCall.ACQUIRED
        assert issue.observations == ("Observation/map2k1-2",)
        assert [s.id for s in issue.gene_sets] == ["vus-braf-mek-mapk"]
        assert "New variant, not in the catalogue: MAP2K1 p.K57N" in issue.detail
        assert "BRAF inhibitor, MEK inhibitor" in issue.detail
        assert "needs expert review" in issue.detail
        assert "no countermeasure" in issue.detail
        assert not hasattr(issue, "countermeasures")
    # it is not a catalogued finding, and it adds no countermeasure or alert of its own
    assert not [f for f in result.findings if f.trigger.gene == "MAP2K1"]
    assert not [i for i in result.issues if i.finding.trigger.gene == "MAP2K1"]


def test_a_gene_wide_negative_in_the_earlier_sample_also_shows_the_variant_is_new(
    catalogue: Catalogue,
) -> None:
    gene_negative = _variant("MAP2K1", None, "Observation/map2k1-wt", BASELINE, call=Call.ABSENT)
    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, gene_negative, K57N_LATER)
    assert len(result.uncertain) == 2
    assert "absent in the sample of 2025-01-10" in result.uncertain[0].timing_reason


def test_the_same_variant_before_therapy_is_not_a_new_variant(catalogue: Catalogue) -> None:
    before = _variant("MAP2K1", "K57N", "Observation/map2k1-1", BASELINE)
    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, before, K57N_LATER)
    assert result.uncertain == ()
    assert all("not new on" in text for text in _uncertain_messages(result))


def test_undetermined_timing_is_said_not_guessed(catalogue: Catalogue) -> None:
    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, K57N_LATER)
    assert result.uncertain == ()
    texts = _uncertain_messages(result)
    assert texts and all("cannot be told" in t for t in texts)


def test_germline_variant_gives_nothing(catalogue: Catalogue) -> None:
    germline = _variant("MAP2K1", "K57N", "Observation/g", PROGRESSION, origin=Origin.GERMLINE)
    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, K57N_ABSENT_BEFORE, germline)
    assert result.uncertain == ()
    assert _uncertain_messages(result) == []


def test_a_catalogued_allele_is_the_rule_s_not_this(catalogue: Catalogue) -> None:
    c121s = _variant("MAP2K1", "C121S", "Observation/c121s", PROGRESSION)
    absent = _variant("MAP2K1", "C121S", "Observation/c121s-0", BASELINE, call=Call.ABSENT)
    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, absent, c121s)
    assert result.uncertain == ()
    assert _uncertain_messages(result) == []
    assert any(f.rule.id == "melanoma-braf-map2k-mutation" for f in result.findings)


def test_no_related_therapy_gives_a_message_only(catalogue: Catalogue) -> None:
    result = _assess(catalogue, "SKCM", (_therapy("nivolumab"),), K57N_ABSENT_BEFORE, K57N_LATER)
    assert result.uncertain == ()
    [text] = _uncertain_messages(result)
    assert "MAP2K1 p.K57N: not in the catalogue" in text
    assert "the patient is on none of these drugs; not an alert" in text
    [message] = [m for m in result.messages if m.text == text]
    assert message.severity is Severity.INFORMATION
    assert message.where == "Observation/map2k1-2"


def test_egfr_kinase_domain_variant_on_osimertinib_is_flagged(catalogue: Catalogue) -> None:
    before = _variant("EGFR", "G796S", "Observation/e-0", BASELINE, call=Call.ABSENT)
    after = _variant("EGFR", "G796S", "Observation/e-1", PROGRESSION)
    result = _assess(catalogue, "LUAD", (_therapy("osimertinib"),), before, after)
    [issue] = result.uncertain
    assert "in its kinase domain" in issue.detail
    assert issue.mechanism.value == "on-target"


def test_egfr_variant_outside_the_kinase_domain_is_not_flagged_on_an_egfr_tki(catalogue: Catalogue) -> None:
    # codon 289 is in the ectodomain, outside the kinase domain (712-979) of vus-egfr-tki-kinase-domain
    before = _variant("EGFR", "A289V", "Observation/e-0", BASELINE, call=Call.ABSENT)
    after = _variant("EGFR", "A289V", "Observation/e-1", PROGRESSION)
    result = _assess(catalogue, "LUAD", (_therapy("osimertinib"),), before, after)
    assert result.uncertain == ()
    # EGFR as a whole is tied to anti-EGFR antibodies, which the patient is not on: a message only
    [text] = _uncertain_messages(result)
    assert "vus-anti-egfr-mab" in text and "none of these drugs" in text


def test_the_drug_s_own_target_is_never_new_resistance(catalogue: Catalogue) -> None:
    before = _variant("EGFR", "L858R", "Observation/e-0", BASELINE, call=Call.ABSENT)
    after = _variant("EGFR", "L858R", "Observation/e-1", PROGRESSION)
    result = _assess(catalogue, "LUAD", (_therapy("osimertinib"),), before, after)
    assert result.uncertain == ()
    assert not any("kinase domain" in t for t in _uncertain_messages(result))


def test_a_tumour_outside_the_gene_set_s_scope_is_not_flagged(catalogue: Catalogue) -> None:
    before = _variant("ABL1", "H396R", "Observation/a-0", BASELINE, call=Call.ABSENT)
    after = _variant("ABL1", "H396R", "Observation/a-1", PROGRESSION)
    in_cml = _assess(catalogue, "CML", (_therapy("imatinib"),), before, after)
    assert len(in_cml.uncertain) == 1
    in_gist = _assess(catalogue, "GIST", (_therapy("imatinib"),), before, after)
    assert in_gist.uncertain == ()


# ---------------------------------------------------------------- output: FHIR, summary, cards


def test_the_detected_issue_is_marked_uncertain_low_and_has_no_mitigation(catalogue: Catalogue) -> None:
    from fhir_resist import terminology
    from fhir_resist.fhir.conformance import conformance_problems
    from fhir_resist.fhir.write import to_bundle

    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, K57N_ABSENT_BEFORE, K57N_LATER)
    bundle = to_bundle(result)
    issues = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DetectedIssue"
        and e["resource"]["code"]["coding"][0]["code"] == "uncertain-resistance"
    ]
    assert len(issues) == 2
    for issue in issues:
        assert issue["code"]["coding"][0]["system"] == terminology.CS_IMPLICATION
        assert issue["severity"] == "low"
        assert "mitigation" not in issue
        assert issue["reference"] == f"{terminology.RESISTANCE_GENES_URL}/vus-braf-mek-mapk"
        assert issue["implicated"][1] == {"reference": "Observation/map2k1-2"}
        assert "needs expert review" in issue["detail"]
        assert conformance_problems(issue, catalogue) == []
    # the uncertain issues are among the Provenance's targets and change the evaluation id
    without = _assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, K57N_LATER)
    assert to_bundle(without)["entry"][-2]["fullUrl"] != bundle["entry"][-2]["fullUrl"]


def test_summary_shows_uncertain_expert_review_not_a_failure(catalogue: Catalogue) -> None:
    from fhir_resist.render import summary

    text = summary(_assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, K57N_ABSENT_BEFORE, K57N_LATER))
    assert "UNCERTAIN, EXPERT REVIEW: NEW UNCATALOGUED VARIANTS IN RESISTANCE GENES (2)" in text
    assert "Not a prediction that the drug fails; no countermeasure is proposed." in text
    assert "[LOW, UNCERTAIN] dabrafenib (MedicationStatement/dabrafenib) <- MAP2K1 p.K57N" in text
    assert "RESISTANCE ALERTS: none" in text  # it is not a resistance alert


def test_patient_view_card_is_info_uncertain_with_no_suggestions(catalogue: Catalogue) -> None:
    from fhir_resist.cdshooks.cards import cards_for

    result = _assess(catalogue, "SKCM", ON_BRAF_MEK, V600E, K57N_ABSENT_BEFORE, K57N_LATER)
    cards = [
        c for c in cards_for(result, hook="patient-view", hook_instance="h") if "Uncertain" in c["summary"]
    ]
    assert len(cards) == 2
    for card in cards:
        assert card["indicator"] == "info"
        assert card["summary"].startswith("Uncertain, expert review: new uncatalogued MAP2K1 p.K57N on ")
        assert len(card["summary"]) < 140
        assert "suggestions" not in card
        assert "Not a prediction that the drug fails" in card["detail"]
        assert "unlikely to work" not in card["summary"]
    assert (
        cards_for(result, hook="order-select", hook_instance="h", ordering=("MedicationStatement/x",)) == []
    )
