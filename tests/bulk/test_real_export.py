"""A Bulk Data export from the real HAPI FHIR server, when ``FHIR_RESIST_TEST_SERVER`` names one.

    FHIR_RESIST_TEST_SERVER=http://localhost:8080/fhir python -m pytest -m server tests/bulk

The server of ``integration/hapi`` has ``$export`` enabled. The test seeds three patients (ids
suffixed with a random tag), two of them in a new Group, exports the Group and checks that the
files hold those two patients' resources and nothing of the third; a re-run downloads nothing.
HAPI asks for 120 s between status checks; the test polls every 2 s (``max_wait``), which is
what the bound is for. Skipped when the variable is not set.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from fhir_resist.bulk.job import Pacing, run_export
from fhir_resist.bulk.kickoff import export_request
from fhir_resist.bulk.polling import PollPolicy
from fhir_resist.fhir.client import FhirClient
from tests.bulk.conftest import population
from tests.conftest import renamed, seed_transaction

SERVER = os.environ.get("FHIR_RESIST_TEST_SERVER")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not SERVER, reason="set FHIR_RESIST_TEST_SERVER to a FHIR R4 base URL"),
]


def test_a_group_export_from_the_real_server(tmp_path: Path) -> None:
    assert SERVER
    client = FhirClient(SERVER)
    tag = uuid.uuid4().hex[:8]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in population()],
    }
    client.transaction(seed_transaction(renamed(bundle, tag), client.base))
    pacing = Pacing(PollPolicy(default_wait=2.0, max_wait=2.0, timeout=600.0))
    notes: list[str] = []
    done = run_export(
        client,
        export_request("group", group=f"sequenced-{tag}"),
        tmp_path,
        pacing=pacing,
        progress=notes.append,
    )
    record = done.record
    assert record.resources_by_type() == {
        "Patient": 2,
        "Observation": 2,
        "DiagnosticReport": 2,
        "Specimen": 2,
        "Condition": 2,
        "MedicationRequest": 2,
    }
    patients = set()
    for entry in record.files:
        for line in (tmp_path / entry.path).read_text().splitlines():
            resource = json.loads(line)
            patients.add(
                resource["id"] if resource["resourceType"] == "Patient" else resource["subject"]["reference"]
            )
    assert patients == {f"p1-{tag}", f"p2-{tag}", f"Patient/p1-{tag}", f"Patient/p2-{tag}"}
    assert (record.manifest or {})["requiresAccessToken"] is True
    assert record.job is not None and record.job.startswith("job ")
    assert any(n.startswith("export Build in progress") for n in notes) or len(notes) >= 7
    again = run_export(client, export_request("group", group=f"sequenced-{tag}"), tmp_path, pacing=pacing)
    assert again.already_complete
