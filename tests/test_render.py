"""The readable summary and the inspect JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_resist import Catalogue, evaluate, read_context
from fhir_resist.render import context_json, summary
from tests.conftest import SCENARIOS, load_json

AT = datetime(2026, 4, 1, tzinfo=UTC)


def test_summary_follows_finding_mechanism_timing_evidence_action(catalogue: Catalogue) -> None:
    text = summary(
        evaluate([load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")], catalogue=catalogue, at=AT)
    )
    order = [
        text.index(word)
        for word in ("KRAS p.G12D", "Mechanism:", "Timing: primary", "Evidence A", "What to do:")
    ]
    assert order == sorted(order)
    assert "status success" in text


def test_summary_without_findings_says_so(catalogue: Catalogue) -> None:
    text = summary(
        evaluate([load_json(SCENARIOS / "crc-ras-wt-panitumumab.json")], catalogue=catalogue, at=AT)
    )
    assert "RESISTANCE ALERTS: none" in text


def test_context_json_lists_alterations_and_messages() -> None:
    data = context_json(read_context([load_json(SCENARIOS / "crc-bad-input-mixed.json")]))
    assert {a["source"] for a in data["alterations"]} == {"Observation/v-garbage", "Observation/v-braf"}
    assert data["specimens"][0]["type"] == "tissue"
    assert any(m["where"] == "Observation/v-eie" for m in data["messages"])
