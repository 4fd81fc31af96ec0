"""Fixtures of the service tests: a HAPI mock holding the KRAS-mutant scenario patient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from tests.conftest import SCENARIOS, load_json
from tests.hapi import HapiMock


@pytest.fixture
def hapi() -> Iterator[HapiMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock = HapiMock(rsps)
        mock.seed(load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json"))
        yield mock
