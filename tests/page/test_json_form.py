"""The page as plain JSON: every shared scenario's page survives the trip through JSON text, and
data that is not a page is refused naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue
from fhir_resist.api import evaluate, read_context
from fhir_resist.page.build import build_page
from fhir_resist.page.json_form import page_from_json, page_json
from fhir_resist.page.model import Page
from tests.conftest import SCENARIOS, load_json

AT = datetime(2026, 9, 1, 9, tzinfo=UTC)
PAGED = sorted(
    p for p in SCENARIOS.glob("*.json") if not p.name.endswith(".expect.json") and "bad-input" not in p.name
)


def _page(path: Path, catalogue: Catalogue) -> Page:
    bundle = load_json(path)
    return build_page(
        evaluate([bundle], catalogue=catalogue, at=AT), read_context([bundle], catalogue=catalogue)
    )


@pytest.mark.parametrize("path", PAGED, ids=lambda p: p.stem)
def test_every_scenario_page_survives_json_text(path: Path, catalogue: Catalogue) -> None:
    page = _page(path, catalogue)
    text = json.dumps(page_json(page))  # only plain data: json refuses anything else
    assert page_from_json(json.loads(text)) == page


def test_the_json_form_holds_dates_as_text_and_the_alerts(catalogue: Catalogue) -> None:
    data = page_json(_page(SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json", catalogue))
    assert data["evaluated"] == AT.isoformat()
    assert data["timeline"]["at"] == "2026-09-01"
    assert data["alerts"] and all(isinstance(a["drugs"], str) for a in data["alerts"])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.pop("status"), "page.status: missing"),
        (lambda d: d.update(extra=1), "page.extra: not a field"),
        (lambda d: d.update(evaluated="yesterday"), "page.evaluated: not an ISO 8601 datetime"),
        (lambda d: d.update(evaluated=5), "page.evaluated: ISO 8601 text expected"),
        (lambda d: d.update(preliminary="no"), "page.preliminary: bool expected"),
        (lambda d: d.update(alerts={}), "page.alerts: a list expected"),
        (lambda d: d["alerts"].append("x"), "page.alerts[1]: an object expected"),
        (
            lambda d: d["timeline"]["samples"][0].update(tumour_fraction=True),
            "tumour_fraction: float expected",
        ),
    ],
)
def test_data_that_is_not_a_page_is_refused_naming_the_field(
    catalogue: Catalogue, change: Any, named: str
) -> None:
    data = page_json(_page(SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json", catalogue))
    change(data)
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("]", r"\]")):
        page_from_json(data)


def test_a_whole_number_is_a_fraction_and_none_stays_none(catalogue: Catalogue) -> None:
    data = page_json(_page(SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json", catalogue))
    data["timeline"]["samples"][0]["tumour_fraction"] = 1
    data["tumour"] = None
    page = page_from_json(data)
    assert page.timeline.samples[0].tumour_fraction == 1.0 and page.tumour is None


def test_a_field_with_a_default_may_be_left_out(catalogue: Catalogue) -> None:
    data = page_json(_page(SCENARIOS / "crc-egfr-s492r-acquired-cetuximab.json", catalogue))
    del data["alerts"][0]["uncertain"]
    assert page_from_json(data).alerts[0].uncertain is False
