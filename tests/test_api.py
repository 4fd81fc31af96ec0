"""The Python API (``fhir_resist.api``): what ``json.load`` gives it is evaluated and written out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_resist.api import evaluate, read_context, to_bundle
from fhir_resist.catalogue import Catalogue
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "crc-kras-g12d-cetuximab.json"


def _with_surrogates(kind: str) -> Any:
    """The example as ``json.load`` reads it after ``"\\ud800"`` was written into ``kind``'s id."""
    text = EXAMPLE.read_text(encoding="utf-8")
    bundle = json.loads(text)
    rid = next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)
    return json.loads(text.replace(f'"{rid}"', f'"{rid}\\ud800"').replace(f'/{rid}"', f'/{rid}\\ud800"'))


@pytest.mark.parametrize("kind", ["Patient", "MedicationRequest", "Observation"])
def test_lone_surrogates_from_json_load_are_evaluated_and_written(catalogue: Catalogue, kind: str) -> None:
    clean = evaluate([json.loads(EXAMPLE.read_text(encoding="utf-8"))], catalogue=catalogue)
    damaged = _with_surrogates(kind)
    assessment = evaluate([damaged], catalogue=catalogue)
    bundle = to_bundle(assessment)
    written = json.dumps(bundle, ensure_ascii=False)
    written.encode("utf-8")  # writable: no surrogate left
    assert "\ufffd" in written  # the damaged id, repaired, is what the output refers to
    assert [i.severity for i in assessment.issues] == [i.severity for i in clean.issues]
    assert len(assessment.issues) >= 1
    assert read_context([damaged], catalogue=catalogue).patient is not None
