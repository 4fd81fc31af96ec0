"""Shared fixtures: the bundled catalogue, test data and the examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_resist import Catalogue, load_catalogue

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"
SCENARIOS = DATA / "scenarios"
IG = DATA / "genomics-reporting-ig"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(ROOT / "catalogue")
