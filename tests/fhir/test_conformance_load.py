"""``fhir-resist profiles --load URL``: every conformance resource PUT to the server, one result each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from fhir_resist.cli import main
from fhir_resist.errors import InputError
from fhir_resist.fhir.conformance_load import read_conformance
from tests.conftest import ROOT
from tests.hapi import BASE, HapiMock


@pytest.fixture
def hapi() -> Iterator[HapiMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield HapiMock(rsps)


def test_load_puts_each_resource_and_a_second_load_changes_nothing(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profiles", str(ROOT / "profiles"), "--load", BASE]) == 0
    first = capsys.readouterr().out
    assert "StructureDefinition/resistance-detected-issue: created (version 1)" in first
    assert "loaded 24 of 24 conformance resources" in first
    assert len(hapi.all("StructureDefinition")) == 9
    assert main(["profiles", str(ROOT / "profiles"), "--load", BASE]) == 0
    assert "CodeSystem/countermeasure: unchanged (version 1)" in capsys.readouterr().out


def test_extensions_are_loaded_before_the_profiles_that_use_them(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    """A validating server refuses a profile whose extensions it does not know yet (HAPI: "Unable
    to resolve profile .../rule-id"), so a first load must put terminology, then extensions, then
    the profiles, then what refers to them."""
    assert main(["profiles", str(ROOT / "profiles"), "--load", BASE]) == 0
    puts = [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if ": created" in line]
    rule_id = puts.index("StructureDefinition/rule-id")
    assert rule_id < puts.index("StructureDefinition/resistance-request-group")
    assert max(i for i, p in enumerate(puts) if p.startswith("CodeSystem/")) < min(
        i for i, p in enumerate(puts) if p.startswith("ValueSet/")
    )
    extensions = [i for i, p in enumerate(puts) if p.startswith("StructureDefinition/")][:6]
    assert {puts[i] for i in extensions} == {
        f"StructureDefinition/{key}"
        for key in (
            "rule-id",
            "catalogue-version",
            "evidence-level",
            "countermeasure-offer",
            "countermeasure-condition",
            "data-requirement-reason",
        )
    }
    assert puts[-1] == "PlanDefinition/resistance-assessment"


def test_a_refused_resource_is_reported_and_the_rest_still_loaded(
    hapi: HapiMock, capsys: pytest.CaptureFixture[str]
) -> None:
    hapi.fail(status=403, body='{"resourceType":"OperationOutcome","issue":[{"diagnostics":"no"}]}')
    assert main(["profiles", str(ROOT / "profiles"), "--load", BASE]) == 3
    out = capsys.readouterr().out
    assert "CodeSystem/countermeasure-offer: refused (GET CodeSystem: the server answered 403" in out
    assert "loaded 23 of 24" in out


def test_bad_directories_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no conformance resources"):
        read_conformance(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        read_conformance(tmp_path / "absent")
    (tmp_path / "Patient-x.json").write_text(json.dumps({"resourceType": "Patient", "id": "x"}))
    with pytest.raises(InputError, match="not a conformance resource"):
        read_conformance(tmp_path)
    (tmp_path / "Patient-x.json").write_text("{")
    with pytest.raises(InputError, match="not readable as JSON"):
        read_conformance(tmp_path)
    (tmp_path / "Patient-x.json").write_text(json.dumps({"resourceType": "ValueSet", "id": "a/b"}))
    with pytest.raises(InputError, match="no valid id"):
        read_conformance(tmp_path)
