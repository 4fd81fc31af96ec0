"""What an Observation's code says it is (``observation_kinds``), by its codes, else by its name."""

from __future__ import annotations

import pytest

from fhir_resist.fhir.read import observation_kinds
from fhir_resist.fhir.read.elements import JSON
from fhir_resist.fhir.read.links import _KIND_CODES

LOINC = "http://loinc.org"


@pytest.mark.parametrize(
    ("code", "kinds"),
    [
        ({"coding": [{"system": LOINC, "code": "69548-6"}]}, {"variant", "coded"}),
        ({"coding": [{"code": "81695-9"}], "text": "tumour fraction"}, {"msi", "coded"}),
        ({"coding": [{"code": "62862-8"}]}, {"msi-ihc", "coded"}),
        ({"coding": [{"code": "94076-7"}]}, {"tmb", "coded"}),
        ({"coding": [{"code": "therapeutic-implication"}]}, {"implication", "coded"}),
        ({"coding": [{"code": "69548-6"}, {"code": "94076-7"}]}, {"variant", "tmb", "coded"}),
        (
            {"coding": [{"code": "69548-6"}, {"system": LOINC, "code": "51961-1"}]},
            {"variant", "implication", "coded"},
        ),
        ({"coding": [{"system": LOINC, "code": "51961-1"}]}, {"implication", "coded"}),
        ({"coding": [{"system": "http://example.org", "code": "51961-1"}]}, {"coded"}),
        ({"coding": [{"code": "x"}], "text": "Tumor fraction"}, {"tumour-fraction", "coded"}),
        ({"coding": [{"display": "tumor purity"}]}, {"tumour-fraction", "coded"}),
        ({"coding": [{"code": ""}]}, {"coded"}),
        ({"text": "ctDNA fraction"}, {"tumour-fraction"}),
        ({"text": "something else"}, set()),
        ("69548-6", set()),
    ],
)
def test_kinds_by_code_else_by_name(code: object, kinds: set[str]) -> None:
    assert observation_kinds({"resourceType": "Observation", "code": code}) == kinds


def test_each_kind_code_alone_is_that_kind() -> None:
    for code, kind in _KIND_CODES.items():
        res: JSON = {
            "resourceType": "Observation",
            "code": {"coding": [{"code": code}], "text": "tumour purity"},
        }
        assert observation_kinds(res) == {kind, "coded"}
