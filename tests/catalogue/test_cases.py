"""Every rule's own cases run through the real engine: match, severity and countermeasures as declared."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_resist.catalogue import Catalogue, load_catalogue
from fhir_resist.catalogue.cases import _problems, case_outcome, run_cases
from fhir_resist.catalogue.schema import Case
from tests.conftest import ROOT

_CATALOGUE = load_catalogue(ROOT / "catalogue")
CASES = [(rule.id, i) for rule in _CATALOGUE.rules for i in range(len(rule.cases))]


@pytest.mark.parametrize(("rule_id", "index"), CASES)
def test_rule_case(rule_id: str, index: int, catalogue: Catalogue) -> None:
    rule = catalogue.rule(rule_id)
    assert rule is not None
    case = rule.cases[index]
    assert _problems(case, case_outcome(catalogue, rule, case)) == [], case.name


def test_every_rule_has_cases() -> None:
    assert CASES
    assert {r for r, _ in CASES} == {r.id for r in _CATALOGUE.rules}


def _case(**extra: Any) -> Case:
    spec = {
        "name": "BRAF V600E colorectal cancer on cetuximab",
        "tumour": "COAD",
        "drug": "cetuximab",
        "alterations": [{"kind": "variant", "gene": "BRAF", "protein": "V600E"}],
        "expect": "match",
        **extra,
    }
    return Case.model_validate(spec)


def test_a_wrong_severity_or_countermeasure_list_fails_the_case(catalogue: Catalogue) -> None:
    rule = catalogue.rule("crc-antiegfr-braf-v600e")
    assert rule is not None
    right = case_outcome(catalogue, rule, _case())
    assert right.severity == "high"
    assert _problems(_case(severity="low"), right) == ["expected severity low, got high"]
    wrong = _problems(_case(withheld=["switch bevacizumab"]), right)
    assert wrong and wrong[0].startswith("expected withheld ['switch bevacizumab'], got")


def test_a_partner_in_the_regimen_is_severity_none(catalogue: Catalogue) -> None:
    rule = catalogue.rule("crc-antiegfr-braf-v600e")
    assert rule is not None
    outcome = case_outcome(catalogue, rule, _case(**{"with": ["encorafenib"]}))
    assert outcome.matched
    assert outcome.severity == "none"


def test_run_cases_reports_every_failure_by_rule_and_case(catalogue: Catalogue) -> None:
    assert run_cases(catalogue) == []


def test_a_case_gives_its_drug_a_dose_and_names_the_data_it_needs(catalogue: Catalogue) -> None:
    rule = catalogue.rule("gist-kit-exon9-imatinib-dose")
    assert rule is not None
    spec = {
        "name": "KIT exon 9 GIST on imatinib",
        "tumour": "GIST",
        "drug": "imatinib",
        "alterations": [{"kind": "variant", "gene": "KIT", "protein": "A502_Y503dup"}],
        "expect": "match",
    }
    at_400 = case_outcome(catalogue, rule, Case.model_validate({**spec, "dose": 400}))
    assert at_400.severity == "moderate" and "therapy-dose" not in at_400.requirements
    unknown = Case.model_validate({**spec, "requirements": ["therapy-dose"]})
    assert _problems(unknown, case_outcome(catalogue, rule, unknown)) == []
    asked = Case.model_validate({**spec, "dose": 400, "requirements": ["therapy-dose"]})
    (problem,) = _problems(asked, at_400)
    assert problem.startswith("expected data requirements ['therapy-dose'], got")
