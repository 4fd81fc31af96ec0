"""One exception hierarchy: every error fhir_resist raises on purpose is a FhirResistError."""

from __future__ import annotations

import pytest

from fhir_resist.errors import FhirResistError, InputError, JsonProblem, OutputValidationError
from fhir_resist.fhir.r4 import validated
from fhir_resist.files import parse_json


def test_json_problem_is_an_input_error_and_still_a_value_error() -> None:
    with pytest.raises(JsonProblem) as caught:
        parse_json("[1,")
    problem = caught.value
    assert isinstance(problem, InputError)
    assert isinstance(problem, ValueError)  # callers that catch json.loads' ValueError still do
    assert problem.where.startswith(":1:")
    assert str(problem).startswith("not valid JSON")  # the caller names the place before ``where``


def test_invalid_output_is_a_defect_not_an_input_error() -> None:
    with pytest.raises(OutputValidationError) as caught:
        validated({"resourceType": "DetectedIssue", "status": "final", "identifiedDateTime": "yesterday"})
    assert isinstance(caught.value, FhirResistError)
    assert not isinstance(caught.value, InputError)
