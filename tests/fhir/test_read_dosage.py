"""Reading a therapy's structured daily dose: mg per administration times how often, never the text."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_resist.domain import DailyDose
from fhir_resist.fhir.read import read_context
from fhir_resist.fhir.read.dosage import daily_dose
from fhir_resist.terminology import GTS_ABBREVIATION, UCUM
from tests.conftest import SCENARIOS, load_json


def _mg(value: float, code: str = "mg", system: str = UCUM) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": system, "code": code}


def _line(
    dose: dict[str, Any] | None = None,
    frequency: int = 1,
    period: float = 1,
    unit: str = "d",
    **extra: Any,
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "text": "take as directed",
        "timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}},
        "doseAndRate": [{"doseQuantity": dose if dose is not None else _mg(400)}],
    }
    line.update(extra)
    return line


def _request(*lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "mr-imatinib",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
        "medicationCodeableConcept": {"text": "imatinib"},
        "dosageInstruction": list(lines),
    }


def test_once_daily_and_twice_daily_doses() -> None:
    assert daily_dose(_request(_line())) == DailyDose(400, 400)
    assert daily_dose(_request(_line(frequency=2))) == DailyDose(800, 800)
    assert daily_dose(_request(_line(frequency=1, period=12, unit="h"))) == DailyDose(800, 800)
    assert daily_dose(_request(_line(_mg(2800), frequency=1, period=1, unit="wk"))) == DailyDose(400, 400)


def test_a_medication_statement_reads_its_dosage() -> None:
    statement = {**_request(_line(frequency=2)), "resourceType": "MedicationStatement"}
    del statement["dosageInstruction"]
    statement["dosage"] = [_line(frequency=2)]
    assert daily_dose(statement) == DailyDose(800, 800)


def test_a_medication_administration_is_one_dose_not_a_daily_dose() -> None:
    administration = {
        "resourceType": "MedicationAdministration",
        "dosage": {"dose": _mg(400)},
    }
    assert daily_dose(administration) is None


def test_a_dose_range_and_a_frequency_range_give_a_range() -> None:
    ranged = _line()
    ranged["doseAndRate"] = [{"doseRange": {"low": _mg(400), "high": _mg(600)}}]
    assert daily_dose(_request(ranged)) == DailyDose(400, 600)
    up_to_twice = _line()
    up_to_twice["timing"]["repeat"]["frequencyMax"] = 2
    assert daily_dose(_request(up_to_twice)) == DailyDose(400, 800)
    every_one_or_two_days = _line()
    every_one_or_two_days["timing"]["repeat"]["periodMax"] = 2
    assert daily_dose(_request(every_one_or_two_days)) == DailyDose(200, 400)
    assert DailyDose(400, 600).label == "400-600 mg/day" and DailyDose(800, 800).label == "800 mg/day"


def test_a_timing_code_names_how_often() -> None:
    line = _line()
    line["timing"] = {"code": {"coding": [{"system": GTS_ABBREVIATION, "code": "BID"}]}}
    assert daily_dose(_request(line)) == DailyDose(800, 800)
    line["timing"] = {"code": {"coding": [{"system": GTS_ABBREVIATION, "code": "Q4H"}]}}
    assert daily_dose(_request(line)) is None
    line["timing"] = {"code": {"coding": [{"system": "http://example.org/local", "code": "BID"}]}}
    assert daily_dose(_request(line)) is None


@pytest.mark.parametrize(
    "quantity",
    [
        _mg(0.4, code="g"),  # another unit is not converted
        _mg(400, code="mg/kg"),
        {"value": 1, "unit": "tablet", "system": "http://snomed.info/sct", "code": "732936001"},
        {"value": 400, "unit": "mg"},  # no UCUM code
        _mg(400, system="http://example.org/units"),
        {**_mg(400), "comparator": "<"},
        _mg(0),
        {"unit": "mg", "system": UCUM, "code": "mg"},
    ],
)
def test_a_dose_not_in_ucum_mg_is_unknown(quantity: dict[str, Any]) -> None:
    assert daily_dose(_request(_line(quantity))) is None


@pytest.mark.parametrize(
    "change",
    [
        {"asNeededBoolean": True},
        {"asNeededCodeableConcept": {"text": "nausea"}},
        {"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "mo"}}},
        {"timing": {"repeat": {"period": 1, "periodUnit": "d"}}},
        {"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", "dayOfWeek": ["mon"]}}},
        {"timing": {"repeat": {"frequency": 2, "frequencyMax": 1, "period": 1, "periodUnit": "d"}}},
        {"timing": {"repeat": {"frequency": 0, "period": 1, "periodUnit": "d"}}},
        {"timing": {}},
        {"doseAndRate": [{"rateQuantity": _mg(400)}]},
        {"doseAndRate": [{"doseQuantity": _mg(400)}, {"doseQuantity": _mg(800)}]},
        {"doseAndRate": [{"doseRange": {"low": _mg(600), "high": _mg(400)}}]},
        {"doseAndRate": [{"doseRange": {"low": _mg(400)}}]},
    ],
)
def test_an_unstructured_or_unreadable_dosage_is_unknown(change: dict[str, Any]) -> None:
    assert daily_dose(_request(_line(**change))) is None


def test_the_dosage_text_is_never_read() -> None:
    request = _request({"text": "imatinib 400 mg once daily"})
    assert daily_dose(request) is None
    assert daily_dose({**request, "dosageInstruction": []}) is None


def test_several_lines_give_a_dose_only_in_sequence_and_agreeing() -> None:
    first, second = _line(sequence=1), _line(sequence=2)
    assert daily_dose(_request(first, second)) == DailyDose(400, 400)
    escalated = _line(frequency=2, sequence=2)
    assert daily_dose(_request(first, escalated)) is None
    # Without a sequence, or sharing one, lines may be taken together (morning and evening).
    assert daily_dose(_request(_line(), _line())) is None
    assert daily_dose(_request(_line(sequence=1), _line(sequence=1))) is None
    assert daily_dose(_request(first, _line(_mg(2), code="g", sequence=2))) is None


def test_the_reader_puts_the_daily_dose_on_the_therapy() -> None:
    bundle = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")
    request = _request(_line(frequency=2))
    context = read_context([bundle, request])
    (imatinib,) = [t for t in context.therapies if t.source == "MedicationRequest/mr-imatinib"]
    assert imatinib.daily_dose == DailyDose(800, 800)
    (cetuximab,) = [t for t in context.therapies if t.source == "MedicationRequest/mr-cetux"]
    assert cetuximab.daily_dose is None
