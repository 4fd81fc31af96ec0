"""Free text read honestly, with the catalogue's words: codes first, negation and uncertainty
handled, anything but one stated answer not evaluable (a message naming the element, no finding)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from fhir_resist import Catalogue, evaluate, load_catalogue
from fhir_resist.domain import CnvCall, Kind, MsiStatus, PatientContext, SpecimenType
from fhir_resist.fhir.read import read_context
from tests.conftest import ROOT, SCENARIOS, load_json

LOINC = "http://loinc.org"
SO = "http://www.sequenceontology.org"
HGNC = "http://www.genenames.org/geneId"
TBD = "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs"


def _msi(value: dict[str, Any], code: str = "81695-9") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "msi",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueCodeableConcept": value,
    }


def _messages(context: PatientContext, where: str) -> list[str]:
    return [m.text for m in context.messages if m.where == where]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("MSI-high not detected", None),
        ("Not MSI-high", None),
        ("Negative for MSI-H", None),
        ("No evidence of microsatellite instability-high", None),
        ("MSI-high: equivocal", None),
        ("indeterminate", None),
        ("MSI status could not be determined", None),
        ("possible MSI-H", None),
        ("MSI-H", MsiStatus.HIGH),
        ("MSI-High", MsiStatus.HIGH),
        ("Microsatellite instability-high", MsiStatus.HIGH),
        ("microsatellite stable", MsiStatus.STABLE),
        ("MSS", MsiStatus.STABLE),
        ("MSI-L", MsiStatus.LOW),
        ("MSI-high not detected; microsatellite stable", MsiStatus.STABLE),
        ("MSI-H but MSS on repeat", None),  # two answers stated
        ("MSI-H, MSS", None),
    ],
)
def test_msi_text(said: str, expected: MsiStatus | None, catalogue: Catalogue) -> None:
    context = read_context([_msi({"text": said})], rules=catalogue.reading)
    found = [a.msi for a in context.alterations]
    assert found == ([expected] if expected else [])
    (message,) = _messages(context, "Observation/msi.valueCodeableConcept")
    assert f"'{said}'" in message  # the text tried is quoted, whatever came of it


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("MMR deficient: loss of MLH1 and PMS2", MsiStatus.HIGH),
        ("dMMR", MsiStatus.HIGH),
        ("mismatch repair proficient (all four proteins intact)", MsiStatus.STABLE),
        ("pMMR", MsiStatus.STABLE),
        ("No loss of MLH1, MSH2, MSH6 or PMS2", None),  # says what it is not, not what it is
        ("MMR deficiency not detected", None),
        ("equivocal MSH6 staining", None),
        ("loss of MLH1, PMS2 intact", None),  # deficient and proficient words at once
    ],
)
def test_mmr_immunohistochemistry_text(said: str, expected: MsiStatus | None, catalogue: Catalogue) -> None:
    context = read_context([_msi({"text": said}, code="62862-8")], rules=catalogue.reading)
    assert [a.msi for a in context.alterations] == ([expected] if expected else [])


def test_the_msi_code_decides_over_the_text(catalogue: Catalogue) -> None:
    value = {"coding": [{"system": LOINC, "code": "LA14122-8"}], "text": "MSI-H"}
    context = read_context([_msi(value)], rules=catalogue.reading)
    assert [a.msi for a in context.alterations] == [MsiStatus.STABLE]
    assert not _messages(context, "Observation/msi.valueCodeableConcept")


def test_an_unknown_code_s_display_is_read_as_text(catalogue: Catalogue) -> None:
    value = {
        "coding": [{"system": "http://lab.example/msi", "code": "9", "display": "MSI-high not detected"}]
    }
    context = read_context([_msi(value)], rules=catalogue.reading)
    assert not context.alterations
    (message,) = _messages(context, "Observation/msi.valueCodeableConcept")
    assert "not evaluable" in message and "negates msi-high ('not detected')" in message


def test_without_reading_rules_only_codes_are_read() -> None:
    context = read_context([_msi({"text": "MSI-H"})])
    assert not context.alterations
    (message,) = _messages(context, "Observation/msi.valueCodeableConcept")
    assert "not read without the catalogue's reading rules" in message
    coded = read_context([_msi({"coding": [{"system": LOINC, "code": "LA26203-2"}]})])
    assert [a.msi for a in coded.alterations] == [MsiStatus.HIGH]


def _with_msi_text(said: str) -> dict[str, Any]:
    bundle: dict[str, Any] = load_json(SCENARIOS / "crc-msi-h-cetuximab.json")
    for entry in bundle["entry"]:
        if entry["resource"].get("id") == "b-msi":
            entry["resource"]["valueCodeableConcept"] = {"text": said}
    return bundle


@pytest.mark.parametrize("said", ["MSI-high not detected", "Not MSI-high", "MSI-high: equivocal"])
def test_negated_or_uncertain_msi_text_raises_no_issue_on_cetuximab(said: str, catalogue: Catalogue) -> None:
    coded = evaluate([load_json(SCENARIOS / "crc-msi-h-cetuximab.json")], catalogue=catalogue)
    assert any(i.finding.trigger.kind is Kind.MSI for i in coded.issues)
    assessment = evaluate([_with_msi_text(said)], catalogue=catalogue)
    assert not any(i.finding.trigger.kind is Kind.MSI for i in assessment.issues)
    assert not [f for f in assessment.findings if f.trigger.kind is Kind.MSI]


def test_stated_msi_text_still_raises_the_issue(catalogue: Catalogue) -> None:
    assessment = evaluate([_with_msi_text("MSI-H")], catalogue=catalogue)
    assert any(i.finding.trigger.kind is Kind.MSI for i in assessment.issues)


def _implication(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "imp",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "51961-1"}]},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "51963-7"}]},
                "valueCodeableConcept": {"text": "cetuximab"},
            },
            {
                "code": {"coding": [{"system": TBD, "code": "predicted-therapeutic-implication"}]},
                "valueCodeableConcept": answer,
            },
        ],
    }


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("No evidence of resistance to cetuximab", "other"),
        ("Not resistant", "other"),
        ("Resistance not supported by current evidence", "other"),
        ("Evidence does not support resistance", "other"),
        ("Possibly resistant", "other"),
        ("Resistance: indeterminate", "other"),
        ("Resistant", "resistant"),
        ("Presumed resistant", "resistant"),
        ("Reduced response", "resistant"),
        ("Likely responsive", "responsive"),
        ("Sensitive", "responsive"),
        ("Not responsive", "other"),
        ("Resistant to cetuximab but sensitive to erlotinib", "other"),
        ("Unknown significance", "other"),
    ],
)
def test_implication_text(said: str, expected: str, catalogue: Catalogue) -> None:
    context = read_context([_implication({"text": said})], rules=catalogue.reading)
    (lab,) = context.lab_implications
    assert lab.assertion == expected
    assert lab.text == said


def test_a_negated_implication_is_said_and_read_as_neither(catalogue: Catalogue) -> None:
    context = read_context(
        [_implication({"text": "No evidence of resistance to cetuximab"})], rules=catalogue.reading
    )
    (message,) = _messages(context, "Observation/imp.component:predicted-therapeutic-implication")
    assert "not evaluable" in message and "negates resistance ('no evidence of')" in message


def test_the_implication_code_decides_over_the_text(catalogue: Catalogue) -> None:
    answer = {"coding": [{"system": LOINC, "code": "LA6677-4"}], "text": "not resistant"}
    (lab,) = read_context([_implication(answer)], rules=catalogue.reading).lab_implications
    assert lab.assertion == "responsive"


def _specimen(type_: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Specimen", "id": "s", "type": type_}


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Plasma", SpecimenType.PLASMA),
        ("Peripheral blood (cfDNA)", SpecimenType.PLASMA),
        ("Liquid biopsy", SpecimenType.PLASMA),
        ("FFPE tumour tissue", SpecimenType.TISSUE),
        ("Core biopsy", SpecimenType.TISSUE),
        ("Non-tumour tissue", SpecimenType.UNKNOWN),
        ("Tumour tissue or plasma", SpecimenType.UNKNOWN),
        ("Buccal swab", SpecimenType.UNKNOWN),
    ],
)
def test_specimen_type_text(said: str, expected: SpecimenType, catalogue: Catalogue) -> None:
    (specimen,) = read_context([_specimen({"text": said})], rules=catalogue.reading).specimens
    assert specimen.type is expected


def test_a_specimen_type_code_decides_and_ambiguous_text_is_said(catalogue: Catalogue) -> None:
    coded = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "TUMOR"}]}
    (specimen,) = read_context([_specimen({**coded, "text": "plasma"})], rules=catalogue.reading).specimens
    assert specimen.type is SpecimenType.TISSUE
    context = read_context([_specimen({"text": "Tumour tissue or plasma"})], rules=catalogue.reading)
    (message,) = _messages(context, "Specimen/s.type")
    assert "not evaluable" in message and "conflicting" in message


def _cnv(copy_number: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "cnv",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "69548-6"}]},
        "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9633-4"}]},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "48018-6"}]},
                "valueCodeableConcept": {
                    "coding": [
                        {"system": "http://www.genenames.org/geneId", "code": "HGNC:9588", "display": "PTEN"}
                    ]
                },
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "48019-4"}]},
                "valueCodeableConcept": {"coding": [{"system": SO, "code": "SO:0001019"}]},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "82155-3"}]},
                "valueQuantity": {"value": copy_number},
            },
        ],
    }


@pytest.mark.parametrize(
    ("copies", "expected"),
    [(6, CnvCall.GAIN), (3, CnvCall.GAIN), (1, CnvCall.LOSS), (0, CnvCall.DELETION), (2, None)],
)
def test_copy_number_cut_offs_come_from_the_catalogue(
    copies: float, expected: CnvCall | None, catalogue: Catalogue
) -> None:
    context = read_context([_cnv(copies)], rules=catalogue.reading)
    cnvs = [a.cnv for a in context.alterations if a.kind is Kind.CNV]
    assert cnvs == ([expected] if expected else [])


def test_changing_the_yaml_cut_off_changes_the_call(tmp_path: Path) -> None:
    copy = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", copy)
    reading = yaml.safe_load((copy / "reading.yaml").read_text(encoding="utf-8"))
    reading["copy_number"]["deletion_below"] = 1.5
    (copy / "reading.yaml").write_text(yaml.safe_dump(reading), encoding="utf-8")
    changed = load_catalogue(copy)
    (alteration,) = read_context([_cnv(1)], rules=changed.reading).alterations
    assert alteration.cnv is CnvCall.DELETION


def test_without_cut_offs_a_bare_copy_number_is_said_not_classed() -> None:
    context = read_context([_cnv(6)])
    assert not [a for a in context.alterations if a.kind is Kind.CNV]
    (message,) = _messages(context, "Observation/cnv.component:copy-number")
    assert "not classed without the catalogue's copy-number cut-offs" in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"msi": {"high": ["msi-h"], "stable": ["msi-h"], "low": ["msi-l"]}}, "is both high and stable"),
        ({"implication": {"resistant": ["negative"], "responsive": ["sensitive"]}}, "is also a cue"),
        ({"msi": {"high": ["MSI-H"], "stable": ["mss"], "low": ["msi-l"]}}, "msi.high.0"),
        ({"copy_number": {"gain_above": 1, "loss_below": 2, "deletion_below": 0.5}}, "deletion_below <="),
    ],
)
def test_reading_yaml_is_checked(change: dict[str, Any], problem: str, tmp_path: Path) -> None:
    copy = tmp_path / "catalogue"
    shutil.copytree(ROOT / "catalogue", copy)
    reading = yaml.safe_load((copy / "reading.yaml").read_text(encoding="utf-8"))
    for key, value in change.items():
        reading[key] = {**reading[key], **value}
    (copy / "reading.yaml").write_text(yaml.safe_dump(reading), encoding="utf-8")
    with pytest.raises(Exception, match=problem) as raised:
        load_catalogue(copy)
    assert "reading.yaml" in str(raised.value)


def test_the_api_reads_with_the_configured_catalogue_s_words() -> None:
    import fhir_resist

    context = fhir_resist.read_context([_msi({"text": "MSI-H"})])
    assert [a.msi for a in context.alterations] == [MsiStatus.HIGH]
