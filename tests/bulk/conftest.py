"""What the bulk export tests share: a mocked HAPI with ``$export``, holding three patients (two of
them in the Group ``sequenced``), a FHIR client whose waits are recorded instead of slept, and a
clock that those waits move on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import responses

from fhir_resist.bulk.job import Pacing
from fhir_resist.bulk.polling import PollPolicy
from fhir_resist.fhir.client import FhirClient
from tests.bulk.hapi_export import HapiBulk
from tests.hapi import BASE

TOKEN = "bulk-export-token"
JSON = dict[str, object]


@dataclass
class Clock:
    """Monotonic time that passes only when something sleeps; every sleep is recorded."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def population() -> list[JSON]:
    resources: list[JSON] = [
        {"resourceType": "Medication", "id": "cetuximab", "code": {"text": "cetuximab"}},
    ]
    for n in (1, 2, 3):
        pid = f"Patient/p{n}"
        resources += [
            {"resourceType": "Patient", "id": f"p{n}", "gender": "female"},
            {"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": pid}},
            {"resourceType": "Specimen", "id": f"s{n}", "subject": {"reference": pid}},
            {
                "resourceType": "Observation",
                "id": f"o{n}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "69548-6"}]},
                "subject": {"reference": pid},
            },
            {
                "resourceType": "DiagnosticReport",
                "id": f"r{n}",
                "status": "final",
                "code": {"text": "panel"},
                "subject": {"reference": pid},
                "result": [{"reference": f"Observation/o{n}"}],
            },
            {
                "resourceType": "MedicationRequest",
                "id": f"m{n}",
                "status": "active",
                "intent": "order",
                "subject": {"reference": pid},
                "medicationReference": {"reference": "Medication/cetuximab"},
            },
        ]
    resources.append(
        {
            "resourceType": "Group",
            "id": "sequenced",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": "Patient/p1"}}, {"entity": {"reference": "Patient/p2"}}],
        }
    )
    return resources


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hapi(rsps: responses.RequestsMock) -> HapiBulk:
    mock = HapiBulk(rsps)
    mock.seed(*population())
    return mock


@pytest.fixture
def client(clock: Clock) -> FhirClient:
    return FhirClient(BASE, token=TOKEN, sleep=clock.sleep)


@pytest.fixture
def pacing(clock: Clock) -> Pacing:
    return Pacing(
        PollPolicy(default_wait=5.0, min_wait=1.0, max_wait=120.0, timeout=3600.0), clock.sleep, clock
    )
