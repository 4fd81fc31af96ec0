"""Regimens and conditions end to end: each bundled example through `evaluate --summary` and order-sign.

The examples (examples/regimens/) are the situations a clinician would otherwise see answered wrongly:
an approved combination flagged on its essential partner, a regimen already failing offered again,
a first-line option offered against the patient's own MSI status or line, switches offered on BRAF
status alone, and chemotherapy for a transformation that has not happened.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_resist import Catalogue, evaluate
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.cli import main
from fhir_resist.config import server_settings
from fhir_resist.engine.model import IssueSeverity, Offer
from tests.cdshooks.test_app import hook_request
from tests.conftest import EXAMPLES, load_json
from tests.hapi import BASE

REGIMENS = EXAMPLES / "regimens"
AT = "2026-04-01T09:00:00Z"
OSIGN = "fhir-resist-order-sign"


def _summary(name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["evaluate", str(REGIMENS / f"{name}.json"), "--summary", "--at", AT]) == 0
    return " ".join(capsys.readouterr().out.split())  # wrapping folded


def _assess(name: str, catalogue: Catalogue) -> Any:
    at = datetime.fromisoformat(AT.replace("Z", "+00:00")).astimezone(UTC)
    return evaluate([load_json(REGIMENS / f"{name}.json")], catalogue=catalogue, at=at)


def _keys(recs: Any) -> set[str]:
    return {r.countermeasure.key for r in recs}


def test_every_example_is_covered_here() -> None:
    names = {p.stem for p in REGIMENS.glob("*.json")}
    assert names == {
        "crc-kras-g12c-sotorasib-panitumumab",
        "crc-braf-v600e-encorafenib-cetuximab",
        "crc-braf-v600e-msi-high-cetuximab",
        "melanoma-nras-acquired-dabrafenib-trametinib",
        "thyroid-braf-v600e-adjuvant-radioiodine",
        "nsclc-egfr-tp53-rb1-first-line-osimertinib",
    }


def test_sotorasib_plus_panitumumab_raises_no_alert_on_the_antibody(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assessment = _assess("crc-kras-g12c-sotorasib-panitumumab", catalogue)
    assert assessment.issues == ()
    (exception,) = assessment.exceptions
    assert exception.therapy.source == "MedicationRequest/mr-pani"
    assert exception.partners == ("sotorasib",)
    out = _summary("crc-kras-g12c-sotorasib-panitumumab", capsys)
    assert "RESISTANCE ALERTS: none" in out
    assert "panitumumab (MedicationRequest/mr-pani) with sotorasib" in out
    assert "- panitumumab + sotorasib (current or ordered)" in out
    assert "- FOLFOX (2025-03-01 to 2025-12-15)" in out


def test_encorafenib_plus_cetuximab_is_the_treatment_not_an_alert(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assessment = _assess("crc-braf-v600e-encorafenib-cetuximab", catalogue)
    assert assessment.issues == ()
    assert [e.partners for e in assessment.exceptions] == [("encorafenib",)]
    assert "combine encorafenib+cetuximab+folfox" in _keys(assessment.withheld)  # it is what they are on
    assert "receiving it now" in _summary("crc-braf-v600e-encorafenib-cetuximab", capsys)


def test_msi_high_braf_v600e_is_not_offered_the_first_line_triplet(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assessment = _assess("crc-braf-v600e-msi-high-cetuximab", catalogue)
    withheld = {r.countermeasure.key: r for r in assessment.withheld}
    assert withheld["combine encorafenib+cetuximab+folfox"].why == ("MSI-high present (Observation/b-msi)",)
    offered = _keys(r for r in assessment.countermeasures if r.offer is Offer.OFFERED)
    assert "switch pembrolizumab" in offered
    conditional = {r.countermeasure.key for r in assessment.countermeasures if r.offer is Offer.CONDITIONAL}
    assert conditional == {
        "combine encorafenib+cetuximab",
        "clinical-trial",  # after encorafenib, which the record does not show
    }  # the triplet with binimetinib is recorded as failed against the doublet (BEACON CRC final OS)
    assert "countermeasure-prior-lines" in {d.code for d in assessment.data_requirements}
    out = _summary("crc-braf-v600e-msi-high-cetuximab", capsys)
    assert "MSI-high present (Observation/b-msi)" in out.split("WITHHELD")[1]


def test_progression_on_dabrafenib_trametinib_alerts_both_and_offers_no_braf_mek_pair(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assessment = _assess("melanoma-nras-acquired-dabrafenib-trametinib", catalogue)
    alerted = {(i.therapy.source, i.severity.value, i.timing.value) for i in assessment.issues}
    assert alerted == {
        ("MedicationStatement/ms-dabra", "high", "acquired"),
        ("MedicationStatement/ms-trame", "high", "acquired"),
    }
    pairs = {
        "combine dabrafenib+trametinib",
        "combine vemurafenib+cobimetinib",
        "combine encorafenib+binimetinib",
    }
    assert pairs <= _keys(assessment.withheld)
    assert not pairs & _keys(assessment.countermeasures)
    assert "(regimen dabrafenib and trametinib)" in assessment.issues[0].detail
    out = _summary("melanoma-nras-acquired-dabrafenib-trametinib", capsys)
    assert "MEK inhibitor received (dabrafenib + trametinib)" in out


def test_adjuvant_radioiodine_is_not_replaced_on_braf_status_alone(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assessment = _assess("thyroid-braf-v600e-adjuvant-radioiodine", catalogue)
    offers = {r.countermeasure.key: r.offer.value for r in assessment.countermeasures}
    assert set(offers.values()) == {"conditional"}  # nothing offered outright
    assert "combine selumetinib+radioactive-iodine" not in offers  # failed in ASTRA
    assert all(
        r.why[0] == "radioiodine-refractory disease (not documented)" for r in assessment.countermeasures
    )
    cabozantinib = next(
        r for r in assessment.countermeasures if r.countermeasure.key == "switch cabozantinib"
    )
    assert cabozantinib.why[1:] == ("lenvatinib or sorafenib received before (not recorded)",)
    assert "countermeasure-setting" in {d.code for d in assessment.data_requirements}
    (issue,) = assessment.issues
    assert issue.severity is IssueSeverity.LOW
    out = _summary("thyroid-braf-v600e-adjuvant-radioiodine", capsys)
    assert "CONDITIONAL switch: lenvatinib" in out


def test_transformation_risk_at_diagnosis_offers_no_chemotherapy(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assessment = _assess("nsclc-egfr-tp53-rb1-first-line-osimertinib", catalogue)
    assert _keys(assessment.countermeasures) == {"retest", "monitor"}
    (withheld,) = assessment.withheld
    assert withheld.countermeasure.key == "switch carboplatin+etoposide"
    assert withheld.why == ("the finding is primary, the option is for acquired resistance",)
    assert "the finding is primary" in _summary("nsclc-egfr-tp53-rb1-first-line-osimertinib", capsys)


# ----------------------------------------------------------------------------- order-sign


@pytest.fixture
def client(tmp_path: Path, catalogue: Catalogue) -> Any:
    server = server_settings({}, base=BASE, outbox=str(tmp_path / "outbox"))
    settings = ServiceSettings(
        auth="off", feedback_path=tmp_path / "feedback.jsonl", server=server, deadline=20
    )
    with TestClient(create_app(settings, catalogue=catalogue)) as test_client:
        yield test_client


def _order_sign(client: TestClient, name: str, drafts: set[str]) -> list[dict[str, Any]]:
    """Sign the orders ``drafts`` (resource ids) of the example; the rest is what the EHR prefetches."""
    bundle = load_json(REGIMENS / f"{name}.json")
    orders = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["id"] in drafts:
            order = copy.deepcopy(resource)
            order["status"] = "draft"
            orders.append(order)
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] not in drafts]
    request = hook_request("order-sign", bundle)
    request["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": o} for o in orders],
    }
    answer = client.post(f"/cds-services/{OSIGN}", json=request)
    assert answer.status_code == 200, answer.text
    cards: list[dict[str, Any]] = answer.json()["cards"]
    return cards


def test_signing_panitumumab_beside_active_sotorasib_raises_no_card(client: TestClient) -> None:
    assert _order_sign(client, "crc-kras-g12c-sotorasib-panitumumab", {"mr-pani"}) == []


def test_signing_cetuximab_with_encorafenib_raises_no_card(client: TestClient) -> None:
    assert _order_sign(client, "crc-braf-v600e-encorafenib-cetuximab", {"mr-cetux", "mr-enco"}) == []


def test_signing_cetuximab_alone_for_msi_high_braf_suggests_no_withheld_regimen(client: TestClient) -> None:
    (card,) = _order_sign(client, "crc-braf-v600e-msi-high-cetuximab", {"mr-cetux"})
    assert card["indicator"] == "critical"
    labels = [s["label"] for s in card.get("suggestions", [])]
    assert not any("FOLFOX" in label for label in labels)
    recommended = [s["label"] for s in card["suggestions"] if s.get("isRecommended")]
    assert recommended == ["Replace cetuximab with pembrolizumab"]
    assert "**Not offered for this patient.**" in card["detail"]
    assert "MSI-high present" in card["detail"]


def test_signing_first_line_osimertinib_with_tp53_rb1_suggests_no_chemotherapy(client: TestClient) -> None:
    (card,) = _order_sign(client, "nsclc-egfr-tp53-rb1-first-line-osimertinib", {"mr-osi"})
    assert card["indicator"] == "info"
    assert card.get("suggestions", []) == []
    assert "the finding is primary" in card["detail"]


def test_signing_adjuvant_radioiodine_recommends_no_switch(client: TestClient) -> None:
    (card,) = _order_sign(client, "thyroid-braf-v600e-adjuvant-radioiodine", {"mr-rai"})
    assert card["indicator"] == "info"
    assert all(not s.get("isRecommended") for s in card.get("suggestions", []))
    assert all("(if eligible)" in s["label"] for s in card.get("suggestions", []))
