"""Patients per second for a population of 50-variant patients, with 1 and 2 worker processes.

    python bench/population.py                  # 1,000 patients, workers 1 and 2, 3 rounds
    python bench/population.py --patients 200 --rounds 1

Two figures per worker count, the counts taking turns within each round (median over rounds):
``api_wN_patients_per_s`` (``evaluate_many`` of the grouped patients, pool start included) and
``cli_wN_patients_per_s`` (``fhir-resist evaluate DIR --all-patients --out-dir OUT`` as a whole
process on an NDJSON export: read, group, evaluate, write). ``*_cpu_s``: CPU seconds of the
process and its workers. ``load_average_start`` / ``load_average_end``: the machine's 1-minute
load average around the run (other tenants' use of the cores shows in patients/s, much less in
CPU seconds).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

if not __package__:  # run as a script: the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generate
from fhir_resist.batch import evaluate_many
from fhir_resist.fhir.read.population import group_by_patient

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    resources = list(generate.patients(args.patients, 50))
    grouped = group_by_patient(resources)
    samples: dict[str, list[float]] = {}
    print(f"load_average_start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as work:
        export = Path(work) / "in" / "export.ndjson"
        export.parent.mkdir()
        export.write_text("".join(generate.ndjson(iter(resources))), encoding="utf-8")
        for _ in range(args.rounds):
            for workers in (1, 2):
                wall, cpu = time.perf_counter(), time.process_time() + _children_cpu()
                evaluate_many(grouped.patients, workers=workers, at=AT)
                _add(samples, f"api_w{workers}", args.patients, wall, cpu)
                wall, cpu = time.perf_counter(), time.process_time() + _children_cpu()
                command = [
                    sys.executable,
                    "-m",
                    "fhir_resist.cli",
                    "evaluate",
                    str(export.parent),
                    "--all-patients",
                ]
                command += [
                    "--out-dir",
                    str(Path(work) / "out"),
                    "--workers",
                    str(workers),
                    "--at",
                    AT.isoformat(),
                ]
                subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
                _add(samples, f"cli_w{workers}", args.patients, wall, cpu)
    for name, values in samples.items():
        print(f"{name} {statistics.median(values):.4g} {'s' if name.endswith('cpu_s') else 'patients/s'}")
    print(f"load_average_end {os.getloadavg()[0]:.2f}")


def _add(samples: dict[str, list[float]], name: str, patients: int, wall: float, cpu: float) -> None:
    samples.setdefault(f"{name}_patients_per_s", []).append(patients / (time.perf_counter() - wall))
    samples.setdefault(f"{name}_cpu_s", []).append(time.process_time() + _children_cpu() - cpu)


if __name__ == "__main__":
    main()
