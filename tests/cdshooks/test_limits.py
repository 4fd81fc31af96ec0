"""The service's limits from the environment: defaults, values, and clear refusals."""

from __future__ import annotations

import pytest

from fhir_resist.cdshooks.limits import Limits
from fhir_resist.errors import InputError


def test_defaults() -> None:
    assert Limits.from_env({}) == Limits()
    assert Limits().max_head == 65536 and Limits().head_timeout == 10.0


def test_values_from_the_environment() -> None:
    env = {
        "FHIR_RESIST_MAX_HEAD": "16384",
        "FHIR_RESIST_HEAD_TIMEOUT": "2.5",
        "FHIR_RESIST_MAX_CONNECTIONS": "100",
        "FHIR_RESIST_KEEP_ALIVE": "3",
        "FHIR_RESIST_CALLER_FETCHES": "2",
        "FHIR_RESIST_REPORT_PATIENTS": "5",
        "FHIR_RESIST_REPORTS_AT_ONCE": "1",
    }
    assert Limits.from_env(env) == Limits(16384, 2.5, 100, 3, 2, 5, 1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FHIR_RESIST_MAX_HEAD", "0"),
        ("FHIR_RESIST_MAX_HEAD", "64k"),
        ("FHIR_RESIST_MAX_CONNECTIONS", "-1"),
        ("FHIR_RESIST_HEAD_TIMEOUT", "nan"),
        ("FHIR_RESIST_HEAD_TIMEOUT", "inf"),
        ("FHIR_RESIST_HEAD_TIMEOUT", "0"),
        ("FHIR_RESIST_HEAD_TIMEOUT", "soon"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(InputError) as refused:
        Limits.from_env({name: value})
    assert str(refused.value).startswith(f"{name}: ")
    assert repr(value) in str(refused.value)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(InputError, match="reports_at_once: must be 1 or more"):
        Limits(reports_at_once=0)
    with pytest.raises(InputError, match="head_timeout"):
        Limits(head_timeout=float("inf"))
