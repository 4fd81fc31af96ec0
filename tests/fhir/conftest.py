"""What the FHIR-layer tests share: a mocked HAPI server holding the KRAS / cetuximab scenario."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from tests.conftest import SCENARIOS, load_json
from tests.hapi import HapiMock

KRAS = "crc-kras-g12d-cetuximab"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


@pytest.fixture
def hapi(rsps: responses.RequestsMock) -> HapiMock:
    """The HAPI mock, holding the KRAS G12D / cetuximab scenario patient."""
    mock = HapiMock(rsps)
    mock.seed(load_json(SCENARIOS / f"{KRAS}.json"))
    return mock
