"""The Bundle made without validating it at run time is the very JSON fhir.resources validates and
writes: every scenario, example and benchmark report, by both write strategies, at any clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bench.generate import panel_report, serial_reports
from fhir_resist import Catalogue, evaluate
from fhir_resist.errors import OutputValidationError
from fhir_resist.fhir.write import WRITE_STRATEGIES, WriteStrategy, to_bundle
from fhir_resist.fhir.write.bundle import ENV_VALIDATE
from tests.conftest import EXAMPLES, SCENARIOS, load_json

INPUTS = sorted(p for p in SCENARIOS.glob("*.json") if not p.name.endswith(".expect.json"))
INPUTS += sorted(EXAMPLES.glob("*.json")) + sorted((EXAMPLES / "regimens").glob("*.json"))
AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _inputs(path: Path) -> list[dict[str, Any]]:
    data = load_json(path)
    return data if isinstance(data, list) else [data]


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
@pytest.mark.parametrize("strategy", WRITE_STRATEGIES)
def test_each_input_gives_the_validated_json(
    catalogue: Catalogue, path: Path, strategy: WriteStrategy
) -> None:
    assessment = evaluate(_inputs(path), catalogue=catalogue, at=AT)
    made = to_bundle(assessment, strategy=strategy, validate=False)
    assert made == to_bundle(assessment, strategy=strategy, validate=True)


@pytest.mark.parametrize(
    "at",
    [
        AT,
        datetime(2026, 3, 1, 9, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 9, 30),  # noqa: DTZ001 - a clock without a zone: UTC
        datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    ],
    ids=["utc", "microseconds", "naive", "plus-two", "minus-five-thirty"],
)
def test_every_clock_is_written_as_fhir_resources_writes_it(catalogue: Catalogue, at: datetime) -> None:
    assessment = evaluate(_inputs(INPUTS[0]), catalogue=catalogue, at=at)
    assert to_bundle(assessment, validate=False) == to_bundle(assessment, validate=True)


def test_benchmark_reports_give_the_validated_json(catalogue: Catalogue) -> None:
    for resources in ([panel_report(50)], [panel_report(500, seed=3)], serial_reports(50)):
        assessment = evaluate(resources, catalogue=catalogue, at=AT)
        assert to_bundle(assessment, validate=False) == to_bundle(assessment, validate=True)


def test_the_setting_asks_for_validation(catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid resource (a writer's defect, simulated) is refused when validation is asked
    for, by the parameter or the setting, and passes through otherwise."""
    from fhir_resist.fhir.write import bundle

    assessment = evaluate(_inputs(INPUTS[0]), catalogue=catalogue, at=AT)
    monkeypatch.setattr(bundle, "device", lambda device_id: {"resourceType": "Device", "statuz": "active"})
    monkeypatch.delenv(ENV_VALIDATE, raising=False)
    assert to_bundle(assessment)["entry"][0]["resource"]["statuz"] == "active"
    with pytest.raises(OutputValidationError, match="not valid FHIR R4"):
        to_bundle(assessment, validate=True)
    for value in ("1", "true", "YES"):
        monkeypatch.setenv(ENV_VALIDATE, value)
        with pytest.raises(OutputValidationError):
            to_bundle(assessment)
    monkeypatch.setenv(ENV_VALIDATE, "0")
    assert to_bundle(assessment)["entry"][0]["resource"]["statuz"] == "active"
    assert to_bundle(assessment, validate=False)["entry"][0]["resource"]["statuz"] == "active"


def test_absent_elements_are_left_out(catalogue: Catalogue) -> None:
    """No None and no empty list anywhere: FHIR has no empty elements."""
    assessment = evaluate(_inputs(INPUTS[0]), catalogue=catalogue, at=AT)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                assert value is not None and value != []
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(to_bundle(assessment, validate=False))
