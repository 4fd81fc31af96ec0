"""The schema of dose-scoped rules and dose countermeasures: strict, so a mistake is an error."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fhir_resist.catalogue.schema import Countermeasure, DoseScope, TherapyScope

_EVIDENCE = {"level": "A", "references": [{"guideline": "NCCN Gastrointestinal Stromal Tumors"}]}
_BELOW_800 = {"fact": "daily-dose", "drug": "imatinib", "below_mg": 800}


def _increase(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "strategy": "increase-dose",
        "drugs": ["imatinib"],
        "dose": {"mg": 400, "times_per_day": 2},
        "condition": "on imatinib below 800 mg/day",
        "requires": [_BELOW_800],
        "evidence": _EVIDENCE,
    }
    spec.update(extra)
    return spec


def test_a_dose_scope_is_of_one_drug() -> None:
    scope = TherapyScope.model_validate({"drugs": ["imatinib"], "daily_dose": {"below_mg": 800}})
    assert scope.daily_dose == DoseScope(below_mg=800)
    for wrong in (
        {"drugs": ["imatinib", "sunitinib"], "daily_dose": {"below_mg": 800}},
        {"classes": ["kit-inhibitor"], "daily_dose": {"below_mg": 800}},
        {"drugs": ["imatinib"], "daily_dose": {"below_mg": 0}},
    ):
        with pytest.raises(ValidationError):
            TherapyScope.model_validate(wrong)


def test_an_increase_dose_countermeasure_names_one_drug_its_dose_and_who_it_is_for() -> None:
    cm = Countermeasure.model_validate(_increase())
    assert cm.key == "increase-dose imatinib"
    assert cm.dose is not None and cm.dose.daily_mg == 800
    wrong: list[dict[str, Any]] = [
        _increase(dose=None),
        _increase(drugs=["imatinib", "sunitinib"]),
        _increase(requires=[]),  # would be proposed to patients not on the drug
        _increase(requires=[{**_BELOW_800, "below_mg": 1000}]),  # above the dose it proposes
        _increase(requires=[{**_BELOW_800, "drug": "sunitinib"}]),
        {**_increase(strategy="switch"), "requires": [], "condition": None},  # a dose for a switch
    ]
    for spec in wrong:
        with pytest.raises(ValidationError):
            Countermeasure.model_validate(spec)
