"""How long ``fhir-resist serve`` takes to become ready; this version beside another.

    python bench/serve_start.py                              # this version
    python bench/serve_start.py --baseline BASE/src          # beside another version's source tree
    python bench/serve_start.py --baseline BASE/src --repeats 9 --processes 2

Each repeat starts ``serve`` (authentication off, on a free loopback port, evaluator processes as
``serve`` starts them: one per usable core unless ``--processes``) as a fresh process from the
same interpreter, the versions taking turns, with the repository's catalogue already kept in a
cache directory of each version's own (as after the first start), and bytecode kept. Figures,
median wall time in milliseconds from the process's start: ``serve_ready_wall_ms`` until
``GET /healthz`` answers 200 (the service takes calls); ``serve_evaluators_ready_wall_ms`` until
``/healthz`` says the evaluator processes are ready (a version whose ``/healthz`` does not say
waits for them before it answers at all: the same moment). See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

if not __package__:  # run as a script (python bench/serve_start.py): the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.startup import Tree, cpu_ms

POLL = 0.005  # seconds between two attempts
GIVE_UP = 120.0  # seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def health(port: int) -> dict[str, object] | None:
    """``/healthz``'s answer, or None while nothing answers."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
    except OSError:
        return None
    if response.status != 200:
        return None
    answer: dict[str, object] = json.loads(body)
    return answer


def one_start(env: dict[str, str], processes: int | None) -> tuple[float, float]:
    """Milliseconds from the start of ``serve`` until ``/healthz`` answers, and until it says the
    evaluators are ready."""
    port = free_port()
    command = [sys.executable, "-m", "fhir_resist.cli", "serve", "--port", str(port)]
    if processes is not None:
        command += ["--processes", str(processes)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = evaluators = None
    try:
        while evaluators is None and time.perf_counter() - started < GIVE_UP:
            answer = health(port)
            now = (time.perf_counter() - started) * 1000
            if answer is not None:
                ready = now if ready is None else ready
                if answer.get("evaluators", "ready") in ("ready", "none"):
                    evaluators = now
            if process.poll() is not None:
                raise RuntimeError(f"serve exited {process.returncode}")
            time.sleep(POLL)
    finally:
        process.terminate()
        process.wait(30)
    if ready is None or evaluators is None:
        raise RuntimeError("serve did not become ready")
    return ready, evaluators


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--baseline", metavar="SRC", type=Path, help="the src directory of another version")
    parser.add_argument("--repeats", type=int, default=7, help="starts per version (default 7)")
    parser.add_argument("--processes", type=int, help="evaluator processes (default: as serve decides)")
    args = parser.parse_args(argv)
    trees = [Tree("this", None)]
    if args.baseline is not None:
        if not (args.baseline / "fhir_resist" / "__init__.py").is_file():
            parser.error(f"{args.baseline} holds no fhir_resist package")
        trees = [Tree("before", args.baseline.resolve()), Tree("after", None)]
    figures: dict[str, dict[str, list[float]]] = {
        "serve_ready_wall_ms": {},
        "serve_evaluators_ready_wall_ms": {},
    }
    with tempfile.TemporaryDirectory(prefix="fhir-resist-bench-") as tmp:
        work = Path(tmp)
        envs = {}
        for tree in trees:
            env = tree.env(work / f"cache-{tree.name}")
            env |= {
                "FHIR_RESIST_CDS_AUTH": "off",
                "FHIR_RESIST_FEEDBACK": str(work / f"feedback-{tree.name}.jsonl"),
                "FHIR_RESIST_STATE_DIR": str(work / f"state-{tree.name}"),
            }
            cpu_ms(["-c", "import fhir_resist; fhir_resist.load_catalogue()"], env)  # the catalogue kept
            one_start(env, args.processes)  # bytecode written, files in the page cache
            envs[tree.name] = env
        for repeat in range(args.repeats):
            print(f"# repeat {repeat + 1}/{args.repeats}", file=sys.stderr)
            for tree in trees:
                ready, evaluators = one_start(envs[tree.name], args.processes)
                figures["serve_ready_wall_ms"].setdefault(tree.name, []).append(ready)
                figures["serve_evaluators_ready_wall_ms"].setdefault(tree.name, []).append(evaluators)
    print("# figure " + " ".join(t.name for t in trees) + " unit")
    for name, by in figures.items():
        values = " ".join(f"{statistics.median(by[t.name]):.0f}" for t in trees)
        print(f"{name} {values} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
