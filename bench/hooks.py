"""CDS Hooks latency on loopback: patient-view and order-select under concurrent clients (figure c),
and the service under a failing FHIR server (robustness counts).

    python bench/hooks.py                  # 500-variant prefetch, 1/2/4/8 clients, 200 calls each
    python bench/hooks.py --processes 0    # evaluated in the HTTP process (no evaluator processes)
    python bench/hooks.py --processes 0 --workers 2   # two HTTP worker processes instead
    python bench/hooks.py --cache off      # only cold calls (every call evaluated)
    python bench/hooks.py --clients 1,4    # other client counts
    python bench/hooks.py --quick          # small and short

The service runs as ``fhir-resist serve`` in its own process(es), as deployed; clients are
threads of this process using ``http.client`` on a fresh connection per call, as an EHR does.
Latency is measured per call, end to end; p50 and p99 are over all calls of a run. Every figure
is printed as ``name value unit``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fhir_resist.cdshooks.evaluators import usable_cores

if not __package__:  # run as a script (python bench/hooks.py): the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generate

JSON = dict[str, Any]


class Served:
    """``fhir-resist serve`` on a free loopback port, for the duration of a ``with`` block."""

    def __init__(self, workers: int, cache: bool, processes: int = 0) -> None:
        self.processes = processes
        self.cache = cache
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.tmp = tempfile.TemporaryDirectory()

    def __enter__(self) -> int:
        env = {
            **os.environ,
            "FHIR_RESIST_CDS_AUTH": "off",
            "FHIR_RESIST_FEEDBACK": str(Path(self.tmp.name) / "feedback.jsonl"),
            "FHIR_RESIST_DEADLINE": "60",
            "FHIR_RESIST_HOOK_CACHE": "32" if self.cache else "0",
        }
        command = [sys.executable, "-c", "from fhir_resist.cli import main; raise SystemExit(main())"]
        command += ["serve", "--port", str(self.port), "--workers", str(self.workers)]
        command += ["--processes", str(self.processes)]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                # measured once the evaluators answer (the service process answers until then)
                if response.status == 200 and json.load(response)["evaluators"] in ("ready", "none"):
                    return self.port
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("the service did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        self.tmp.cleanup()


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


def hook_bodies(variants: int, seed: int = 1) -> dict[str, bytes]:
    """patient-view and order-select requests for one panel-report patient, all data prefetched.
    Another seed gives another patient's report: the same drivers, other passenger variants."""
    report = generate.panel_report(variants, seed=seed, patient_id="bench-pt")
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


def latency(
    port: int, path: str, bodies: list[bytes], clients: int, calls: int
) -> tuple[list[float], Counter[int]]:
    """``calls`` calls from ``clients`` concurrent clients, taking the bodies in turn."""
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(lambda i: post(port, path, bodies[i % len(bodies)]), range(calls)))
    return [ms for _, ms, _ in results], Counter(status for status, _, _ in results)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(
    variants: int,
    clients: tuple[int, ...],
    calls: int,
    workers: int,
    cache: bool,
    emit: Callable[[str, float, str], None],
    processes: int = 0,
) -> None:
    # cold: every call another patient's report (16 in turn), so nothing the service memoises
    # (codings, parsed HGVS) carries over from the call before; warm: one chart reopened.
    patients = [hook_bodies(variants, seed) for seed in range(1, 2 if cache else 17)]
    bodies = patients[0]
    mode = "warm" if cache else "cold"
    with Served(workers, cache, processes) as port:
        for hook, service in (
            ("patient-view", "fhir-resist-patient-view"),
            ("order-select", "fhir-resist-order-select"),
        ):
            path = f"/cds-services/{service}"
            for _ in range(3 * max(workers, processes)):  # warm up every worker
                status, _, data = post(port, path, bodies[hook])
            cards = json.loads(data)["cards"]
            assert status == 200, (status, data[:200])
            assert cards, data[:200]
            name = hook.replace("-", "_")
            for n in clients:
                times, statuses = latency(port, path, [p[hook] for p in patients], n, calls)
                assert statuses == Counter({200: calls}), statuses
                stem = f"{name}_{variants}_{mode}_w{workers}_p{processes}_c{n}"
                emit(f"{stem}_p50_ms", statistics.median(times), "ms")
                emit(f"{stem}_p99_ms", percentile(times, 0.99), "ms")
                emit(f"{stem}_calls_per_s", n * 1000 / statistics.mean(times), "calls/s")
    emit(f"request_body_{variants}_kb", len(bodies["patient-view"]) / 1024, "kB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes (serve --workers)")
    parser.add_argument(
        "--processes",
        type=int,
        default=usable_cores(),
        help=f"evaluator processes (serve --processes; default {usable_cores()}: one per usable core)",
    )
    parser.add_argument(
        "--clients", default="1,2,4,8", help="concurrent client counts, comma-separated (default 1,2,4,8)"
    )
    parser.add_argument(
        "--cache",
        choices=("off", "on", "both"),
        default="both",
        help="the service's assessment cache for repeated prefetch: off (every call evaluated: cold), "
        "on (the same chart opened again: warm), or both runs (default)",
    )
    args = parser.parse_args(argv)
    wanted = tuple(int(n) for n in args.clients.split(",") if n.strip())
    variants, calls, clients = (50, 20, (1, 4)) if args.quick else (args.variants, args.calls, wanted)

    def emit(name: str, value: float, unit: str) -> None:
        print(f"{name} {value:.4g} {unit}", flush=True)

    for cache in {"off": (False,), "on": (True,), "both": (False, True)}[args.cache]:
        run(variants, clients, calls, args.workers, cache, emit, args.processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
