"""The completion manifest: HAPI's form accepted, every bad element named."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_resist.bulk.manifest import FileEntry, parse_manifest
from fhir_resist.errors import ServerError

HAPI: dict[str, Any] = {
    "transactionTime": "2026-12-07T02:00:00.000+00:00",
    "request": "http://hapi.test/fhir/$export?_type=Patient",
    "requiresAccessToken": True,
    "output": [{"type": "Patient", "url": "http://hapi.test/fhir/Binary/1"}],
}


def test_hapis_manifest_without_count_or_error() -> None:
    manifest = parse_manifest(HAPI)
    assert manifest.requires_access_token
    assert manifest.output == (FileEntry("Patient", "http://hapi.test/fhir/Binary/1", None),)
    assert manifest.error == ()


def test_counts_and_error_files_as_the_ig_has_them() -> None:
    data = HAPI | {
        "output": [{"type": "Observation", "url": "https://files.test/o1", "count": 20}],
        "error": [{"type": "OperationOutcome", "url": "https://files.test/e1"}],
    }
    manifest = parse_manifest(data)
    assert manifest.output[0].count == 20
    assert manifest.error == (FileEntry("OperationOutcome", "https://files.test/e1"),)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"transactionTime": None}, "transactionTime"),
        ({"requiresAccessToken": "yes"}, "requiresAccessToken"),
        ({"request": 3}, "request"),
        ({"output": None}, "output: missing"),
        ({"output": [HAPI["output"][0], "x"]}, "output[1]: not an object"),
        ({"output": [{"type": "../etc", "url": "http://a/b"}]}, "output[0].type"),
        ({"output": [{"type": "Patient", "url": "file:///etc/passwd"}]}, "output[0].url"),
        ({"output": [{"type": "Patient", "url": "http://a/b", "count": -1}]}, "output[0].count"),
        ({"output": [{"type": "Patient", "url": "http://a/b", "count": True}]}, "output[0].count"),
        ({"error": {"type": "OperationOutcome"}}, "error: missing or not an array"),
    ],
)
def test_a_bad_element_is_named(change: dict[str, Any], named: str) -> None:
    data = {k: v for k, v in (HAPI | change).items() if v is not None}
    with pytest.raises(ServerError) as caught:
        parse_manifest(data)
    assert f"export manifest: {named}" in str(caught.value)
    assert not caught.value.retryable


def test_not_an_object() -> None:
    with pytest.raises(ServerError, match="not a JSON object"):
        parse_manifest([HAPI])
