"""Reading FHIR into the domain: what is understood, and what is ignored with a message."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from fhir_resist import Catalogue
from fhir_resist.domain import Call, CnvCall, Kind, MsiStatus, Origin, Severity, SpecimenType
from fhir_resist.fhir.read import INTERNAL_ERROR, normalise_reference, parse_date, read_context
from tests.conftest import IG, SCENARIOS, load_json


def _scenario(name: str) -> dict[str, Any]:
    bundle: dict[str, Any] = load_json(SCENARIOS / f"{name}.json")
    return bundle


def _by_source(context: Any) -> dict[str, Any]:
    return {a.source: a for a in context.alterations}


def test_variant_present_with_protein_coding_vaf_and_origin() -> None:
    context = read_context([_scenario("crc-kras-g12d-cetuximab")])
    kras = _by_source(context)["Observation/v-kras"]
    assert kras.kind is Kind.VARIANT
    assert kras.call is Call.PRESENT
    assert kras.gene == "KRAS" and kras.hgnc_id == "HGNC:6407"
    assert kras.protein is not None and kras.protein.text == "G12D"
    assert kras.coding is not None and kras.coding.codon == 12
    assert kras.codon == 12
    assert kras.consequence == "missense"
    assert kras.origin is Origin.SOMATIC
    assert kras.vaf == pytest.approx(0.31)
    assert kras.specimen == "Specimen/sp-1"
    assert kras.report == "DiagnosticReport/dr-1"
    assert kras.observed == date(2026, 2, 20)


def test_absent_variant_is_a_pertinent_negative_not_a_finding() -> None:
    context = read_context([_scenario("crc-kras-g12d-cetuximab")])
    braf = _by_source(context)["Observation/v-braf-neg"]
    assert braf.call is Call.ABSENT
    assert braf.protein is not None and braf.protein.text == "V600E"


def test_therapy_tumour_specimen_and_report() -> None:
    context = read_context([_scenario("crc-kras-g12d-cetuximab")])
    assert context.patient == "Patient/pat-1"
    (therapy,) = context.therapies
    assert therapy.source == "MedicationRequest/mr-cetux"
    assert therapy.start == date(2026, 3, 10)
    assert therapy.status == "active" and not therapy.proposed
    assert {c.code for c in therapy.codings} == {"318341", "L01FE01"}
    (tumour,) = context.tumours
    assert {c.code for c in tumour.codings} == {"363406005", "C18.9"}
    (specimen,) = context.specimens
    assert specimen.type is SpecimenType.TISSUE and specimen.collected == date(2026, 2, 20)
    (report,) = context.reports
    assert report.results == ("Observation/v-kras", "Observation/v-braf-neg")


def test_entered_in_error_is_ignored_and_garbage_hgvs_is_reported() -> None:
    context = read_context([_scenario("crc-bad-input-mixed")])
    sources = _by_source(context)
    assert "Observation/v-eie" not in sources
    garbage = sources["Observation/v-garbage"]
    assert garbage.protein is None and garbage.codon is None
    texts = [f"{m.where} {m.text}" for m in context.messages]
    assert any("v-eie" in t and "entered-in-error" in t for t in texts)
    assert any("v-garbage" in t and "protein-hgvs" in t for t in texts)
    assert sources["Observation/v-braf"].protein is not None


def test_msi_and_tmb() -> None:
    context = read_context([_scenario("crc-msi-h-cetuximab")])
    sources = _by_source(context)
    assert sources["Observation/b-msi"].kind is Kind.MSI
    assert sources["Observation/b-msi"].msi is MsiStatus.HIGH
    assert sources["Observation/b-tmb"].kind is Kind.TMB
    assert sources["Observation/b-tmb"].tmb == 48.0


def test_copy_number_gain_is_read_as_gain_with_its_copy_number() -> None:
    context = read_context([_scenario("crc-erbb2-amp-cetuximab")])
    erbb2 = _by_source(context)["Observation/cn-erbb2"]
    assert erbb2.kind is Kind.CNV and erbb2.cnv is CnvCall.GAIN  # amplification is the catalogue's call
    assert erbb2.copy_number == 18
    assert erbb2.gene == "ERBB2"


def test_gain_becomes_amplification_at_the_catalogue_threshold(catalogue: Any) -> None:
    from fhir_resist import evaluate

    bundle = _scenario("crc-erbb2-amp-cetuximab")
    findings = evaluate([bundle], catalogue=catalogue).findings
    assert any(f.rule.id == "crc-antiegfr-erbb2-amplification" for f in findings)
    cn = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "cn-erbb2")
    copy_number = next(c for c in cn["component"] if c["code"]["coding"][0]["code"] == "82155-3")
    copy_number["valueQuantity"]["value"] = 3
    assert not any(
        f.rule.id == "crc-antiegfr-erbb2-amplification"
        for f in evaluate([bundle], catalogue=catalogue).findings
    )
    cn["component"].remove(copy_number)
    context = read_context([bundle])
    assert any("cannot be told" in m.text for m in context.messages)


def test_plasma_specimen_and_medication_statement_period() -> None:
    context = read_context([_scenario("crc-egfr-s492r-acquired-cetuximab")])
    specimens = {s.source: s for s in context.specimens}
    assert specimens["Specimen/sp-2"].type is SpecimenType.PLASMA
    (therapy,) = context.therapies
    assert therapy.resource_type == "MedicationStatement"
    assert therapy.start == date(2025, 12, 1)


def _variant(value_code: str | None) -> dict[str, Any]:
    obs: dict[str, Any] = copy.deepcopy(
        next(
            e["resource"]
            for e in _scenario("crc-kras-g12d-cetuximab")["entry"]
            if e["resource"].get("id") == "v-kras"
        )
    )
    if value_code is None:
        del obs["valueCodeableConcept"]
    else:
        obs["valueCodeableConcept"]["coding"][0]["code"] = value_code
    return obs


def test_no_call_is_neither_finding_nor_negative() -> None:
    context = read_context([_variant("LA18198-4")])
    assert context.alterations == ()
    assert any("no call" in m.text for m in context.messages)


def test_missing_value_is_read_as_present_with_a_warning() -> None:
    context = read_context([_variant(None)])
    assert context.alterations[0].call is Call.PRESENT
    assert any("no Present/Absent value" in m.text for m in context.messages)


def test_vaf_in_percent_and_absurd_vaf() -> None:
    obs = _variant("LA9633-4")
    vaf = next(c for c in obs["component"] if c["code"]["coding"][0]["code"] == "81258-6")
    vaf["valueQuantity"] = {"value": 31, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    assert read_context([obs]).alterations[0].vaf == pytest.approx(0.31)
    vaf["valueQuantity"] = {"value": 250, "code": "%"}
    context = read_context([obs])
    assert context.alterations[0].vaf is None
    assert any("outside 0-100" in m.text for m in context.messages)


def test_germline_source_class() -> None:
    obs = _variant("LA9633-4")
    origin = next(c for c in obs["component"] if c["code"]["coding"][0]["code"] == "48002-0")
    origin["valueCodeableConcept"]["coding"][0]["code"] = "LA6683-2"
    assert read_context([obs]).alterations[0].origin is Origin.GERMLINE


def test_mixed_patients_are_not_merged() -> None:
    bundle = _scenario("crc-kras-g12d-cetuximab")
    stranger = _variant("LA9633-4")
    stranger["id"] = "other-kras"
    stranger["subject"] = {"reference": "Patient/someone-else"}
    bundle["entry"].append(
        {"fullUrl": "http://ehr.example.org/fhir/Observation/other-kras", "resource": stranger}
    )
    context = read_context([bundle])
    assert "Observation/other-kras" not in _by_source(context)
    assert any("mixed patients" in m.text for m in context.messages)


def test_non_resources_are_messages_not_exceptions() -> None:
    context = read_context([{"no": "type"}, {"resourceType": "Bundle", "entry": "oops"}])
    wheres = [m.where for m in context.messages]
    assert "input[0]" in wheres and "input[1].entry" in wheres


def test_medication_reference_to_contained_and_bundled_medication() -> None:
    request = {
        "resourceType": "MedicationRequest",
        "id": "mr-1",
        "status": "active",
        "intent": "order",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": {
                    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "263034"}]
                },
            }
        ],
        "medicationReference": {"reference": "#med"},
        "subject": {"reference": "Patient/p"},
    }
    (therapy,) = read_context([request]).therapies
    assert therapy.codings[0].code == "263034"
    request2 = {
        **request,
        "id": "mr-2",
        "contained": [],
        "medicationReference": {"reference": "Medication/m9"},
    }
    context = read_context([request2])
    assert context.therapies == ()
    assert any("Medication/m9" in m.text for m in context.messages)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-10", date(2026, 3, 10)),
        ("2026-03", date(2026, 3, 1)),
        ("2026", date(2026, 1, 1)),
        ("2026-03-10T12:00:00Z", date(2026, 3, 10)),
        ("nonsense", None),
        (None, None),
        ("2026-13-40", None),
    ],
)
def test_parse_date(text: str | None, expected: date | None) -> None:
    assert parse_date(text) == expected


def test_normalise_reference() -> None:
    assert normalise_reference("http://ehr.example.org/fhir/Observation/x", {}) == "Observation/x"
    assert normalise_reference("Observation/x/_history/2", {}) == "Observation/x"
    assert normalise_reference("urn:uuid:1", {"urn:uuid:1": "Observation/a"}) == "Observation/a"


def test_genomics_reporting_ig_examples_read_without_errors() -> None:
    resources = [load_json(p) for p in sorted(IG.glob("*.json"))]
    context = read_context([r for r in resources if r.get("resourceType") != "Bundle"])
    errors = [m for m in context.messages if m.severity is Severity.ERROR]
    # The IG examples describe several example patients: mixing them is reported, never raised.
    assert all("Patient" in m.text or "mixed patients" in m.text for m in errors)
    egfr = read_context([load_json(IG / "Observation-EGFR-L858R-var.json")]).alterations[0]
    assert egfr.gene == "EGFR" and egfr.protein is not None and egfr.protein.text == "L858R"


def _subject(resource: dict[str, Any], patient: str = "Patient/p1") -> dict[str, Any]:
    out = copy.deepcopy(resource)
    out["subject"] = {"reference": patient}
    return out


def test_fusion_named_only_in_the_variation_code() -> None:
    (fusion,) = read_context([load_json(IG / "Observation-ROS1-Fusion-var.json")]).alterations
    assert fusion.kind is Kind.FUSION and fusion.gene == "ROS1"


def test_two_gene_components_make_a_fusion_with_partner() -> None:
    obs = _variant("LA9633-4")
    obs["component"].append(
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
            "valueCodeableConcept": {
                "coding": [{"system": "http://www.genenames.org", "code": "HGNC:427", "display": "ALK"}]
            },
        }
    )
    (fusion,) = read_context([obs]).alterations
    assert fusion.kind is Kind.FUSION and (fusion.gene, fusion.partner) == ("KRAS", "ALK")


def test_deletion_with_copy_number_one_is_a_copy_number_loss(catalogue: Catalogue) -> None:
    obs = load_json(IG / "Observation-ExampleSomaticDEL.json")
    (loss,) = read_context([obs], rules=catalogue.reading).alterations
    assert loss.kind is Kind.CNV and loss.cnv is CnvCall.LOSS and loss.copy_number == 1


def test_protein_change_found_in_a_molecular_consequence() -> None:
    variant = _subject(_variant("LA9633-4"))
    variant["component"] = [
        c for c in variant["component"] if c["code"]["coding"][0]["code"] not in {"48005-3", "48004-6"}
    ]
    consequence = _subject(load_json(IG / "Observation-NOTCH1-uncertain-molc.json"))
    consequence["derivedFrom"] = [{"reference": "Observation/v-kras"}]
    (alteration,) = read_context([variant, consequence]).alterations
    assert alteration.protein is not None and alteration.protein.text == "A1931T"


def test_members_of_a_grouping_belong_to_the_report() -> None:
    variant = _subject(_variant("LA9633-4"))
    group = {
        "resourceType": "Observation",
        "id": "grp",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {
            "coding": [{"system": "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "code": "C43359"}]
        },
        "hasMember": [{"reference": "Observation/v-kras"}],
    }
    report = {
        "resourceType": "DiagnosticReport",
        "id": "dr",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"code": "51969-4"}]},
        "result": [{"reference": "Observation/grp"}],
    }
    context = read_context([report, group, variant])
    (alteration,) = context.alterations
    assert alteration.report == "DiagnosticReport/dr"


def test_unknown_modifier_extension_means_the_resource_is_not_used() -> None:
    obs = _variant("LA9633-4")
    obs["modifierExtension"] = [{"url": "http://example.org/not-really", "valueBoolean": True}]
    context = read_context([obs])
    assert context.alterations == ()
    assert any(m.where.endswith("modifierExtension") for m in context.messages)


def test_code_system_variants_are_canonicalised() -> None:
    obs = _variant("LA9633-4")
    obs["code"]["coding"][0]["system"] = "urn:oid:2.16.840.1.113883.6.1"
    gene = next(c for c in obs["component"] if c["code"]["coding"][0]["code"] == "48018-6")
    gene["valueCodeableConcept"]["coding"][0]["system"] = "https://www.genenames.org/"
    (alteration,) = read_context([obs]).alterations
    assert alteration.hgnc_id == "HGNC:6407"


def test_hgvs_in_the_wrong_slot_is_used_and_reported() -> None:
    obs = _variant("LA9633-4")
    obs["component"] = [c for c in obs["component"] if c["code"]["coding"][0]["code"] != "48005-3"]
    coding = next(c for c in obs["component"] if c["code"]["coding"][0]["code"] == "48004-6")
    coding["valueCodeableConcept"]["coding"][0]["code"] = "NP_004976.2:p.Gly12Asp"
    context = read_context([obs])
    assert context.alterations[0].protein is not None
    assert context.alterations[0].protein.text == "G12D"
    assert any("slot" in m.text for m in context.messages)


def test_vaf_above_one_without_unit_is_a_flagged_percentage() -> None:
    obs = _variant("LA9633-4")
    vaf = next(c for c in obs["component"] if c["code"]["coding"][0]["code"] == "81258-6")
    vaf["valueQuantity"] = {"value": 31}
    context = read_context([obs])
    assert context.alterations[0].vaf == pytest.approx(0.31)
    assert any("read as a percentage" in m.text for m in context.messages)


def test_primary_cancer_condition_wins_over_a_metastasis(catalogue: Any) -> None:
    from fhir_resist import evaluate

    bundle = _scenario("crc-kras-g12d-cetuximab")
    lung = copy.deepcopy(next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"))
    lung["resource"]["id"] = "a-met"
    lung["resource"]["meta"]["profile"] = [
        "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-secondary-cancer-condition"
    ]
    lung["resource"]["code"] = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C34.9"}]}
    bundle["entry"].append(lung)
    assert evaluate([bundle], catalogue=catalogue).tumour == "COAD"


@pytest.mark.parametrize(
    ("code", "answer", "expected"),
    [
        ("81695-9", {"coding": [{"system": "http://loinc.org", "code": "LA26203-2"}]}, MsiStatus.HIGH),
        ("81695-9", {"text": "MSI-L"}, MsiStatus.LOW),
        ("62862-8", {"text": "MMR deficient: loss of MLH1 and PMS2"}, MsiStatus.HIGH),
        ("62862-8", {"text": "mismatch repair proficient (all four proteins intact)"}, MsiStatus.STABLE),
    ],
)
def test_msi_and_mmr_immunohistochemistry(
    code: str, answer: dict[str, Any], expected: MsiStatus, catalogue: Catalogue
) -> None:
    obs = {
        "resourceType": "Observation",
        "id": "m",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "valueCodeableConcept": answer,
    }
    (alteration,) = read_context([obs], rules=catalogue.reading).alterations
    assert alteration.msi is expected


def test_an_amended_result_supersedes_the_final_one_with_the_same_identifier() -> None:
    first = _variant("LA9633-4")
    first["identifier"] = [{"system": "http://lab.example.org/result", "value": "R-1"}]
    amended = copy.deepcopy(first)
    amended["id"], amended["status"] = "v-kras-amended", "amended"
    amended["valueCodeableConcept"]["coding"][0]["code"] = "LA9634-2"
    context = read_context([first, amended])
    assert [(a.source, a.call) for a in context.alterations] == [("Observation/v-kras-amended", Call.ABSENT)]
    assert any("superseded by Observation/v-kras-amended" in m.text for m in context.messages)


def test_a_text_only_tumour_fraction_is_used_without_a_no_code_warning() -> None:
    specimen = {"resourceType": "Specimen", "id": "plasma-1", "type": {"text": "plasma"}}
    fraction = {
        "resourceType": "Observation",
        "id": "tf-1",
        "status": "final",
        "code": {"text": "ctDNA tumor fraction"},
        "subject": {"reference": "Patient/p"},
        "specimen": {"reference": "Specimen/plasma-1"},
        "valueQuantity": {"value": 12, "unit": "%"},
    }
    context = read_context([{"resourceType": "Patient", "id": "p"}, specimen, fraction])
    assert [s.tumour_fraction for s in context.specimens] == [pytest.approx(0.12)]
    messages = [(m.severity.value, m.text) for m in context.messages if "tf-1" in m.where]
    assert messages == [("information", "read as the tumour fraction of Specimen/plasma-1 (12%)")]


def _kras_scenario_with(subject: object) -> list[dict[str, object]]:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    for entry in bundle["entry"]:
        if entry["resource"]["id"] == "v-kras":
            if subject is None:
                del entry["resource"]["subject"]
            else:
                entry["resource"]["subject"] = subject
    return [bundle]


def test_a_finding_without_a_subject_is_used_and_said_so() -> None:
    context = read_context(_kras_scenario_with(None))
    assert any(a.source == "Observation/v-kras" for a in context.alterations)
    assert any(
        m.where == "Observation/v-kras.subject" and "names no patient" in m.text for m in context.messages
    )


def test_a_finding_about_a_group_is_not_this_patients() -> None:
    context = read_context(_kras_scenario_with({"reference": "Group/cohort-7"}))
    assert not any(a.source == "Observation/v-kras" for a in context.alterations)
    messages = [(m.where, m.text) for m in context.messages]
    assert any(w == "Observation/v-kras.subject" and "not a patient" in t for w, t in messages)


def _with_cetuximab(**fields: object) -> list[dict[str, object]]:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    for entry in bundle["entry"]:
        if entry["resource"]["id"] == "mr-cetux":
            entry["resource"].update(fields)
    return [bundle]


def test_an_unreadable_therapy_date_is_said_and_not_guessed() -> None:
    context = read_context(_with_cetuximab(authoredOn="14/09/2026"))
    (therapy,) = context.therapies
    assert therapy.start is None
    assert any(
        m.where == "MedicationRequest/mr-cetux.authoredOn" and "'14/09/2026' is not a FHIR date" in m.text
        for m in context.messages
    )


def test_a_period_ending_before_it_starts_is_not_used() -> None:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    statement = {
        "resourceType": "MedicationStatement",
        "id": "ms-1",
        "status": "completed",
        "subject": {"reference": "Patient/pat-1"},
        "medicationCodeableConcept": {"text": "panitumumab"},
        "effectivePeriod": {"start": "2026-05-01", "end": "2026-01-01"},
    }
    context = read_context([bundle, statement])
    (therapy,) = [t for t in context.therapies if t.source == "MedicationStatement/ms-1"]
    assert (therapy.start, therapy.end) == (None, None)
    assert any("ends (2026-01-01) before it starts (2026-05-01)" in m.text for m in context.messages)


def test_report_results_that_are_not_references_are_reported() -> None:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "DiagnosticReport":
            odd = ["Observation/v-kras", {"display": "x"}]
            entry["resource"]["result"] = [*entry["resource"]["result"], *odd]
    context = read_context([bundle])
    assert any(
        m.where == "DiagnosticReport/dr-1.result" and m.text.startswith("2 of ") for m in context.messages
    )


@pytest.mark.parametrize("rtype", ["0", "observation", "Observation!", " Patient"])
def test_a_resource_type_that_is_no_fhir_type_is_named_and_ignored(rtype: str) -> None:
    context = read_context([{"resourceType": rtype, "id": "x"}])
    (message,) = context.messages
    assert (message.where, message.severity.value) == ("input[0].resourceType", "error")
    assert "is not a FHIR resource type" in message.text


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [("SO:0001574", "SO:0001583", "splice"), ("SO:0001583", "SO:0001574", "missense")],
)
def test_without_a_protein_change_the_first_consequence_code_reported_is_used(
    first: str, second: str, expected: str
) -> None:
    """Two consequence codes, no p.: the reader takes the first given, never a hash-order pick."""
    obs = _variant("LA9633-4")
    obs["component"] = [
        c for c in obs["component"] if c["code"]["coding"][0]["code"] not in {"48005-3", "48004-6"}
    ]
    obs["component"].append(
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "48019-4"}]},
            "valueCodeableConcept": {
                "coding": [
                    {"system": "http://www.sequenceontology.org", "code": first},
                    {"system": "http://www.sequenceontology.org", "code": second},
                ]
            },
        }
    )
    (kras,) = read_context([obs]).alterations
    assert kras.protein is None
    assert kras.consequence == expected


def test_a_reader_bug_is_named_as_internal_and_the_rest_is_still_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The readers never raise on content; should one raise, the resource is named, the bug
    logged, and every other resource is still read."""

    def broken(*_args: object) -> None:
        raise KeyError("a reader bug")

    monkeypatch.setattr("fhir_resist.fhir.read.context.read_condition", broken)
    context = read_context([load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")])
    (internal,) = [m for m in context.messages if m.text.startswith(INTERNAL_ERROR)]
    assert internal.severity.value == "error"
    assert internal.where.startswith("Condition/") and "KeyError" in internal.text
    assert context.alterations and context.therapies and not context.tumours
    assert "internal error reading Condition/" in caplog.text


def test_a_chosen_patient_not_in_the_input_is_named_by_its_reference() -> None:
    context = read_context([load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")], patient="nobody")
    first = context.messages[0]
    assert (first.where, first.text) == ("Patient/nobody", "Patient/nobody is not in the input")


def test_a_component_no_reader_uses_is_said_once_per_code_for_the_whole_input() -> None:
    """The IG's ATR insertion carries components fhir_resist does not use (chromosome, genomic
    reference sequence, allele positions, read depth...): each is named once, never dropped silently;
    two Observations carrying the same component give one message that counts them."""
    first = load_json(IG / "Observation-ATR-insertion-var.json")
    second = copy.deepcopy(first)
    second["id"] = "ATR-insertion-var-2"
    context = read_context([first, second])
    unread = [m for m in context.messages if "is not read by fhir_resist" in m.text]
    codes = [m.where.rsplit(":", 1)[1] for m in unread]
    assert "48013-7" in codes and len(codes) == len(set(codes))
    (reference_sequence,) = [m for m in unread if m.where.endswith(":48013-7")]
    assert reference_sequence.where == "Observation/ATR-insertion-var.component:48013-7"
    assert "(in 2 Observations)" in reference_sequence.text
    assert reference_sequence.severity.value == "information"
    assert not any(m.where.endswith(":48018-6") for m in unread)  # gene studied is read


def test_a_component_is_unread_only_when_none_of_its_codes_is_read() -> None:
    """A component carrying a read code besides an unknown one is read, so not named; one
    carrying only unknown codes is named by its first code, whatever else the Observation holds."""
    variant = load_json(IG / "Observation-ATR-insertion-var.json")
    variant["component"] = [
        {
            "code": {
                "coding": [
                    {"system": "http://example.org/lab", "code": "lab-gene"},
                    {"system": "http://loinc.org", "code": "48018-6", "display": "Gene studied [ID]"},
                ]
            },
            "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org", "code": "HGNC:882"}]},
        },
        {
            "code": {
                "coding": [
                    {"system": "http://example.org/lab", "code": "lab-depth", "display": "Read depth"},
                    {"system": "http://example.org/lab", "code": "lab-depth-2"},
                ]
            },
            "valueInteger": 412,
        },
    ]
    context = read_context([variant])
    unread = [m for m in context.messages if "is not read by fhir_resist" in m.text]
    assert [m.where for m in unread] == ["Observation/ATR-insertion-var.component:lab-depth"]
    assert "component lab-depth (Read depth) is not read" in unread[0].text


@pytest.mark.parametrize(
    ("kept", "label"),
    [
        ({"48005-3", "48004-6", "81290-9"}, "KRAS p.G12D"),
        ({"48004-6", "81290-9"}, "KRAS c.35G>A"),
        ({"81290-9"}, "KRAS NC_000012.12:g.25245350C>T"),
        (set(), "KRAS variant"),
    ],
)
def test_variant_label_from_the_protein_else_coding_else_genomic_change(kept: set[str], label: str) -> None:
    bundle = _scenario("crc-kras-g12d-cetuximab")
    kras = next(e["resource"] for e in bundle["entry"] if e["resource"].get("id") == "v-kras")
    genomic = {
        "code": {"coding": [{"system": "http://loinc.org", "code": "81290-9"}]},
        "valueCodeableConcept": {"coding": [{"code": "NC_000012.12:g.25245350C>T"}]},
    }
    hgvs = {"48005-3", "48004-6", "81290-9"}
    kras["component"] = [
        c for c in [*kras["component"], genomic] if c["code"]["coding"][0]["code"] not in hgvs - kept
    ]
    assert _by_source(read_context([bundle]))["Observation/v-kras"].label == label
