"""Cards from assessments, without HTTP: which cards, which indicator, what they say."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_resist import Catalogue, evaluate, terminology
from fhir_resist.cdshooks.cards import SUMMARY_LIMIT, _short, cards_for
from fhir_resist.fhir.profiles import conformance_resources
from tests.cdshooks import conformance
from tests.conftest import SCENARIOS, load_json

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)


def _without_drugs(name: str) -> dict[str, Any]:
    bundle: dict[str, Any] = load_json(SCENARIOS / f"{name}.json")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "MedicationRequest"]
    return bundle


def test_patient_view_without_therapy_gets_one_info_card_on_implications(catalogue: Catalogue) -> None:
    assessment = evaluate([_without_drugs("crc-kras-g12d-cetuximab")], catalogue=catalogue, at=AT)
    (card,) = cards_for(assessment, hook="patient-view", hook_instance="h")
    assert card["indicator"] == "info"
    assert card["summary"].startswith("Genomic findings predict resistance to:")
    assert "anti-EGFR" in card["summary"] or "cetuximab" in card["summary"]
    assert conformance.response({"cards": [card]}) == []


def test_wild_type_patient_on_panitumumab_gets_no_resistance_card(catalogue: Catalogue) -> None:
    assessment = evaluate([load_json(SCENARIOS / "crc-ras-wt-panitumumab.json")], catalogue=catalogue, at=AT)
    cards = cards_for(assessment, hook="patient-view", hook_instance="h")
    assert all(c["indicator"] == "info" for c in cards)
    assert not any("unlikely to work" in c["summary"] for c in cards)


def test_card_ids_are_stable_per_hook_instance(catalogue: Catalogue) -> None:
    assessment = evaluate([load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")], catalogue=catalogue, at=AT)
    first = cards_for(assessment, hook="patient-view", hook_instance="a")
    again = cards_for(assessment, hook="patient-view", hook_instance="a")
    other = cards_for(assessment, hook="patient-view", hook_instance="b")
    assert [c["uuid"] for c in first] == [c["uuid"] for c in again]
    assert not {c["uuid"] for c in first} & {c["uuid"] for c in other}


def test_override_reasons_are_in_the_published_code_system(catalogue: Catalogue) -> None:
    system = conformance_resources(catalogue)["CodeSystem-override-reason.json"]
    assert system["url"] == terminology.CS_OVERRIDE
    assert [c["code"] for c in system["concept"]] == [code for code, _ in terminology.OVERRIDE_REASONS]


@pytest.mark.parametrize("length", [10, SUMMARY_LIMIT, SUMMARY_LIMIT + 1, 400])
def test_summaries_stay_under_140_characters(length: int) -> None:
    text = _short("x" * length)
    assert len(text) < 140
    assert text == "x" * length or text.endswith("…")
