"""CPU time of one CDS Hooks call in an evaluator process: cold (another patient each call) and
warm (the same chart again, another hookInstance), optionally against another version's source.

    python bench/hook_cpu.py                          # this version
    python bench/hook_cpu.py --baseline BASE/src      # and another, side by side, in turns

Each version runs in its own fresh process per round (``PYTHONPATH`` selects the source), the two
taking turns; a round times ``evaluators.evaluate`` (the raw body to the cards, as an evaluator
runs it, with its garbage-collector settings and the thread that frees spent requests) with
``time.process_time`` (every thread of the process). Figures are medians over all calls of all
rounds, printed as ``name value unit``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_ROUND = r"""
import json, sys, threading, time
sys.path.insert(0, {root!r})
from bench.hooks import hook_bodies
from fhir_resist.catalogue import load_catalogue
from fhir_resist.cdshooks import evaluators
from fhir_resist.cdshooks.assessment_cache import AssessmentCache
from fhir_resist.cdshooks.tuning import tune_gc

evaluators._catalogue = load_catalogue()
if hasattr(evaluators, "_free_spent"):  # a version before cdshooks/spent.py
    threading.Thread(target=evaluators._free_spent, daemon=True).start()
else:
    evaluators._spent.start()
tune_gc()
service = "fhir-resist-patient-view"
bodies = [hook_bodies({variants}, seed)["patient-view"] for seed in range(1, 17)]
out = {{"cold": [], "warm": []}}
evaluators._cache = AssessmentCache(0)
for body in bodies[:2]:
    evaluators.evaluate(service, body)
for body in bodies:
    started = time.process_time()
    evaluators.evaluate(service, body)
    out["cold"].append(time.process_time() - started)
evaluators._cache = AssessmentCache(32)
evaluators.evaluate(service, bodies[0])
for n in range({calls}):
    body = bodies[0].replace(b'"hookInstance": "bench-pv"', b'"hookInstance": "bench-pv-%d"' % n)
    started = time.process_time()
    answer = evaluators.evaluate(service, body)
    out["warm"].append(time.process_time() - started)
    assert answer.cached
print(json.dumps(out))
"""


def _round(source: Path, variants: int, calls: int) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    code = _ROUND.format(root=str(ROOT), variants=variants, calls=calls)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    result: dict[str, list[float]] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another version's source tree (its src/)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--calls", type=int, default=30, help="warm calls per round")
    args = parser.parse_args(argv)
    versions = {"after": ROOT / "src"} | ({"before": args.baseline} if args.baseline else {})
    times: dict[str, dict[str, list[float]]] = {v: {"cold": [], "warm": []} for v in versions}
    for _ in range(args.rounds):
        for version, source in versions.items():
            for kind, values in _round(source, args.variants, args.calls).items():
                times[version][kind] += values
    for version in versions:
        for kind in ("cold", "warm"):
            ms = 1000 * statistics.median(times[version][kind])
            print(f"hook_{kind}_{args.variants}_cpu_ms_{version} {ms:.3g} ms")
    if args.baseline:
        for kind in ("cold", "warm"):
            ratio = statistics.median(times["after"][kind]) / statistics.median(times["before"][kind])
            print(f"hook_{kind}_{args.variants}_cpu_after_over_before {ratio:.3g} ratio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
