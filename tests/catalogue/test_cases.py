"""Every rule's own cases run through the real engine: each must and must not trigger as declared."""

from __future__ import annotations

import pytest

from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.catalogue.cases import case_matches
from tests.conftest import ROOT

_CATALOGUE = load_catalogue(ROOT / "catalogue")
CASES = [(rule.id, i) for rule in _CATALOGUE.rules for i in range(len(rule.cases))]


@pytest.mark.parametrize(("rule_id", "index"), CASES)
def test_rule_case(rule_id: str, index: int, catalogue: Catalogue) -> None:
    rule = catalogue.rule(rule_id)
    assert rule is not None
    case = rule.cases[index]
    assert case_matches(catalogue, rule, case) == (case.expect == "match"), case.name


def test_every_rule_has_cases() -> None:
    assert CASES
    assert {r for r, _ in CASES} == {r.id for r in _CATALOGUE.rules}
