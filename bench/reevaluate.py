"""``fhir-resist reevaluate`` over a generated population: throughput, memory, affected-patient search.

    python bench/reevaluate.py                   # 10,000 patients (about 15 min on 2 quiet cores)
    python bench/reevaluate.py --patients 200    # a quick look

The population is ``generate.population`` (panels with the common colorectal drivers, some with
amplifications, a quarter followed with three serial samples; 10 small variants a report, as
the examples' panels report),
written as a Bulk Data export (``<Type>.ndjson`` files). Each engine runs the whole command as a
process of its own (read, spill, group, evaluate, compare with nothing, count), one after the
other in one run, so that their figures share the machine's state:

- ``<engine>_patients_per_s``: patients over wall time; ``<engine>_wall_s`` and ``<engine>_cpu_s``
  (CPU seconds of the command and everything it started: workers, Dask's nannies) side by side;
- ``<engine>_parent_cpu_s``: the command's own CPU seconds (sampled; its workers' excluded);
- ``<engine>_parent_rss_mb``: the command's own peak resident memory; ``<engine>_workers_rss_mb``:
  the peak of its descendants' resident memory, summed over those alive at once (sampled every
  0.1 s from /proc; Linux only);

for ``local_w1`` (one process), ``local_w2`` (two worker processes) and ``dask_local_w2`` (a Dask
LocalCluster of two worker processes). Then, in this process, after a one-rule catalogue change
(the bundled catalogue without ``crc-antiegfr-met-amplification``, against the bundled one):
``affected_search_s`` (spill, group and read every patient to find those the rule touches,
nothing evaluated), ``affected_patients`` (how many), ``affected_search_patients_per_s``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if not __package__:  # run as a script: the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generate

AT = "2026-11-30T09:00:00Z"
RULE = "crc-antiegfr-met-amplification"
ENGINES = {
    "local_w1": ["--workers", "1"],
    "local_w2": ["--workers", "2"],
    "dask_local_w2": ["--scheduler", "local", "--workers", "2"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of one process (utime and stime of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as children:
                    kids = [int(k) for k in children.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


class PeakMemory:
    """The peak RSS of a process and the peak sum of its descendants' RSS, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid, self.parent_kb, self.workers_kb = pid, 0, 0
        self.parent_cpu_s = 0.0  # the command's own CPU (not its workers'), at the last sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.parent_kb = max(self.parent_kb, _rss_kb(self.pid))
            self.parent_cpu_s = max(self.parent_cpu_s, _cpu_s(self.pid))
            self.workers_kb = max(self.workers_kb, sum(_rss_kb(p) for p in _descendants(self.pid)))
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_engine(name: str, export: Path, patients: int) -> dict[str, float]:
    command = [sys.executable, "-m", "fhir_resist.cli", "reevaluate", str(export), *ENGINES[name], "--at", AT]
    wall, cpu = time.perf_counter(), _children_cpu()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    memory = PeakMemory(process.pid)
    code = process.wait()
    memory.stop()
    if code != 0:
        raise SystemExit(f"{name}: reevaluate exited {code}")
    seconds = time.perf_counter() - wall
    return {
        f"{name}_patients_per_s": patients / seconds,
        f"{name}_wall_s": seconds,
        f"{name}_cpu_s": _children_cpu() - cpu,
        f"{name}_parent_cpu_s": memory.parent_cpu_s,
        f"{name}_parent_rss_mb": memory.parent_kb / 1024,
        f"{name}_workers_rss_mb": memory.workers_kb / 1024,
    }


def affected_search(export: Path, work: Path) -> dict[str, float]:
    """The patients a one-rule change touches, found without evaluating anyone."""
    from fhir_resist.catalogue import load_catalogue
    from fhir_resist.reevaluation.affected import affected_by, catalogue_change, patient_reach
    from fhir_resist.reevaluation.partitions import groups, partition_count, spill
    from fhir_resist.reevaluation.sources import sources

    before_dir = work / "catalogue-before"
    shutil.copytree(Path(__file__).resolve().parent.parent / "catalogue", before_dir)
    (before_dir / "rules" / "crc-antiegfr" / f"{RULE}.yaml").unlink()
    before, after = load_catalogue(before_dir), load_catalogue()
    started = time.perf_counter()
    change = catalogue_change(before, after)
    inputs = sources([str(export)])
    spilled = spill(inputs, work / "spill", partition_count(sum(s.size for s in inputs)))
    seen = selected = 0
    for grouped in groups(spilled):
        for patient, resources in grouped.patients.items():
            seen += 1
            selected += bool(affected_by(patient_reach(patient, resources, after), change, after))
    seconds = time.perf_counter() - started
    return {
        "affected_search_s": seconds,
        "affected_patients": float(selected),
        "affected_search_patients_per_s": seen / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=10)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    args = parser.parse_args()
    print(f"load_average_start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        counts = generate.write_export(
            generate.population(args.patients, n_variants=args.variants), str(work / "export")
        )
        size = sum(p.stat().st_size for p in (work / "export").glob("*.ndjson"))
        print(f"patients {args.patients}")
        print(f"observations {counts.get('Observation', 0)}")
        print(f"export_mb {size / 2**20:.1f} MB", flush=True)
        for name in args.engines.split(","):
            _print(run_engine(name, work / "export", args.patients))
        _print(affected_search(work / "export", work))
    print(f"load_average_end {os.getloadavg()[0]:.2f}")


def _print(figures: dict[str, float]) -> None:
    """Each figure as it is measured (a long run shows what it has so far)."""
    for name, value in figures.items():
        unit = next((u for suffix, u in _UNITS if name.endswith(suffix)), "")
        print(f"{name} {value:.4g} {unit}".rstrip(), flush=True)
    print(f"load_average {os.getloadavg()[0]:.2f}", flush=True)


_UNITS = (("_per_s", "patients/s"), ("_s", "s"), ("_mb", "MB"), ("_patients", "patients"))

if __name__ == "__main__":
    main()
