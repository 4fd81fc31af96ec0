"""CDS Hooks latency on loopback: patient-view and order-select under concurrent clients (figure c),
and the service under a failing FHIR server (robustness counts).

    python bench/hooks.py                  # 500-variant prefetch, 1/4/8 clients, 200 calls each
    python bench/hooks.py --quick          # small and short
    python bench/hooks.py --faults         # also: reports and fetching hooks while the FHIR server fails

The service runs in this process (uvicorn in a thread, one event loop, the evaluation thread
pool), exactly as ``fhir-resist serve`` runs it; clients are threads using ``http.client`` on a
fresh connection per call, as an EHR does. Latency is measured per call, end to end; p50 and
p99 are over all calls of a run. Every figure is printed as ``name value unit``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvicorn

from fhir_resist import load_catalogue
from fhir_resist.cdshooks.app import ServiceSettings, create_app
from fhir_resist.config import server_settings

try:
    from bench import generate
except ModuleNotFoundError:  # run as a script: python bench/hooks.py
    import generate  # type: ignore[no-redef]

JSON = dict[str, Any]


class Served:
    """The app on a free loopback port, for the duration of a ``with`` block."""

    def __init__(self, app: Any) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.01)
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def post(port: int, path: str, body: bytes) -> tuple[int, float, bytes]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, 1000 * (time.perf_counter() - started), data


def _searchset(resources: list[JSON]) -> JSON:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def hook_bodies(variants: int) -> dict[str, bytes]:
    """patient-view and order-select requests for one panel-report patient, all data prefetched."""
    report = generate.panel_report(variants, seed=1, patient_id="bench-pt")
    resources = [e["resource"] for e in report["entry"]]

    def of(*kinds: str) -> list[JSON]:
        return [r for r in resources if r["resourceType"] in kinds]

    prefetch = {
        "patient": of("Patient")[0],
        "conditions": _searchset(of("Condition")),
        "medicationRequests": _searchset(of("MedicationRequest", "Medication")),
        "medicationStatements": _searchset([]),
        "medicationAdministrations": _searchset([]),
        "reports": _searchset(of("DiagnosticReport", "Specimen", "Observation")),
        "genomicObservations": _searchset([]),
    }
    context = {"userId": "Practitioner/bench", "patientId": "bench-pt"}
    view = {"hook": "patient-view", "hookInstance": "bench-pv", "context": context, "prefetch": prefetch}
    draft = {
        "resourceType": "MedicationRequest",
        "id": "bench-draft",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": generate.drug_concept("cetuximab"),
        "subject": {"reference": "Patient/bench-pt"},
    }
    select = {
        "hook": "order-select",
        "hookInstance": "bench-os",
        "context": {
            **context,
            "selections": ["MedicationRequest/bench-draft"],
            "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]},
        },
        "prefetch": {**prefetch, "medicationRequests": _searchset([])},
    }
    return {"patient-view": json.dumps(view).encode(), "order-select": json.dumps(select).encode()}


def latency(port: int, path: str, body: bytes, clients: int, calls: int) -> tuple[list[float], Counter[int]]:
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(lambda _: post(port, path, body), range(calls)))
    return [ms for _, ms, _ in results], Counter(status for status, _, _ in results)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(variants: int, clients: tuple[int, ...], calls: int, emit: Callable[[str, float, str], None]) -> None:
    bodies = hook_bodies(variants)
    catalogue = load_catalogue()
    with tempfile.TemporaryDirectory() as tmp:
        settings = ServiceSettings(
            auth="off", feedback_path=Path(tmp) / "feedback.jsonl", server=server_settings({}), deadline=60
        )
        app = create_app(settings, catalogue=catalogue)
        with Served(app) as port:
            for hook, service in (("patient-view", "fhir-resist-patient-view"), ("order-select", "fhir-resist-order-select")):
                path = f"/cds-services/{service}"
                status, _, data = post(port, path, bodies[hook])  # warm up
                cards = json.loads(data)["cards"]
                assert status == 200 and cards, (status, data[:200])
                name = hook.replace("-", "_")
                for n in clients:
                    times, statuses = latency(port, path, bodies[hook], n, calls)
                    assert statuses == Counter({200: calls}), statuses
                    emit(f"{name}_{variants}_c{n}_p50_ms", statistics.median(times), "ms")
                    emit(f"{name}_{variants}_c{n}_p99_ms", percentile(times, 0.99), "ms")
                    emit(f"{name}_{variants}_c{n}_calls_per_s", n * 1000 / statistics.mean(times), "calls/s")
    emit(f"request_body_{variants}_kb", len(bodies["patient-view"]) / 1024, "kB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    variants, calls, clients = (50, 20, (1, 4)) if args.quick else (args.variants, args.calls, (1, 4, 8))

    def emit(name: str, value: float, unit: str) -> None:
        print(f"{name} {value:.4g} {unit}", flush=True)

    run(variants, clients, calls, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
