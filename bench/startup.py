"""What a user waits for around the evaluation: interpreter and imports, the catalogue, the output
Bundle, and the command's whole process as reports grow; this version beside another.

    python bench/startup.py                        # this version
    python bench/startup.py --baseline OLD/src     # beside another version's source tree
    python bench/startup.py --quick                # smoke run: small sizes, 3 repeats

``--baseline`` names the ``src`` directory of the version to compare with, for example main's:
``mkdir BASE && git archive main src | tar -x -C BASE``, then ``--baseline BASE/src``. Both
versions run the same commands in fresh processes (``PYTHONPATH`` selects the baseline), taking
turns within each repeat, with the repository's catalogue. Each figure is the median CPU time
(user + system) of its repeats in milliseconds (and the whole command's wall time), printed as
``name before after unit`` (``name value unit`` without a baseline). See bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

if not __package__:  # run as a script (python bench/startup.py): the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
AT = "2026-11-30T09:00:00Z"
CLI = ["-m", "fhir_resist.cli"]
GROWTH_FROM = 500  # the smallest report whose variants cost measurably more than the fixed start


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (50, 500, 5000, 50000)  # reports evaluated by the whole command
    repeats: int = 5


FULL = Config()
QUICK = Config(sizes=(50, 500), repeats=3)
# Wall time is reported for the whole command only (cli_evaluate_N_wall_ms): on a shared machine it
# also counts other tenants' use of the cores; CPU time is the figure to compare.


@dataclass(frozen=True)
class Tree:
    """A version of fhir_resist: this one (``path`` None) or the source tree at ``path``."""

    name: str
    path: Path | None

    def env(self, cache: Path) -> dict[str, str]:
        # As installed: bytecode is kept (an installer compiles it), output validation is off.
        dropped = {"FHIR_RESIST_VALIDATE_OUTPUT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env["FHIR_RESIST_CATALOGUE"] = str(ROOT / "catalogue")
        env["FHIR_RESIST_CACHE_DIR"] = str(cache)
        if self.path is not None:
            env["PYTHONPATH"] = str(self.path)
        return env


def cpu_ms(command: Sequence[str], env: dict[str, str], stdin: Path | None = None) -> float:
    """The CPU time (user + system) of one process, in milliseconds; it must succeed."""
    return timed(command, env, stdin)[0]


def timed(command: Sequence[str], env: dict[str, str], stdin: Path | None = None) -> tuple[float, float]:
    """The CPU time (user + system) and the wall time of one process, in milliseconds."""
    started = time.perf_counter()
    with open(stdin or os.devnull, "rb") as given:
        process = subprocess.Popen(
            [sys.executable, *command],
            env=env,
            stdin=given,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors = process.stderr.read().decode() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    wall = (time.perf_counter() - started) * 1000
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}: {errors.strip()[-500:]}")
    return (usage.ru_utime + usage.ru_stime) * 1000, wall


# ------------------------------------------------------------------------- in-process probe


def probe(repeats: int) -> dict[str, float]:
    """Figures measured inside one process of the version on ``sys.path``: the catalogue read
    from YAML and ready from whatever the version keeps, and ``to_bundle`` of typical results."""
    import fhir_resist
    from bench import generate

    def yaml_load() -> object:
        try:
            return fhir_resist.load_catalogue(cache=False)  # type: ignore[call-arg, unused-ignore]
        except TypeError:  # a version without a compiled catalogue reads the YAML anyway
            return fhir_resist.load_catalogue()

    out = {"catalogue_yaml_ms": _median_cpu(yaml_load, repeats)}
    fhir_resist.load_catalogue()  # kept, where the version keeps it
    out["catalogue_ready_ms"] = _median_cpu(fhir_resist.load_catalogue, repeats)
    catalogue = fhir_resist.load_catalogue()
    at = datetime.fromisoformat(AT)
    for n in (50, 500):
        report = generate.panel_report(n, cat=catalogue)
        assessment = fhir_resist.evaluate([report], catalogue=catalogue, at=at)
        out[f"to_bundle_{n}_ms"] = _median_cpu(partial(fhir_resist.to_bundle, assessment), repeats * 3)
    return out


def _median_cpu(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.process_time()
        call()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


# ------------------------------------------------------------------------- the figures


def figures(config: Config, trees: Sequence[Tree], log: Callable[[str], None]) -> dict[str, dict[str, float]]:
    """Every figure for every tree: ``{figure: {tree name: value}}``."""
    results: dict[str, dict[str, list[float]]] = {}

    def add(name: str, tree: str, value: float) -> None:
        results.setdefault(name, {}).setdefault(tree, []).append(value)

    with tempfile.TemporaryDirectory(prefix="fhir-resist-bench-") as tmp:
        work = Path(tmp)
        reports = _reports(work, config.sizes, log)
        envs = {tree.name: tree.env(work / f"cache-{tree.name}") for tree in trees}
        for tree in trees:  # the catalogue kept before anything is measured (and imports warm)
            cpu_ms(["-c", "import fhir_resist; fhir_resist.load_catalogue()"], envs[tree.name])
        for repeat in range(config.repeats):
            log(f"repeat {repeat + 1}/{config.repeats}")
            add("bare_python_ms", "all", cpu_ms(["-c", "pass"], envs[trees[0].name]))
            for tree in trees:
                env = envs[tree.name]
                add("help_ms", tree.name, cpu_ms([*CLI, "--help"], env))
                ready = "import fhir_resist; fhir_resist.load_catalogue()"
                add("catalogue_ready_process_ms", tree.name, cpu_ms(["-c", ready], env))
                for n, path in reports.items():
                    cpu, wall = timed([*CLI, "evaluate", str(path), "--at", AT], env)
                    add(f"cli_evaluate_{n}_ms", tree.name, cpu)
                    add(f"cli_evaluate_{n}_wall_ms", tree.name, wall)
        for tree in trees:
            log(f"in-process figures of {tree.name}")
            command = [str(Path(__file__).resolve()), "--probe", "--repeats", str(config.repeats)]
            done = subprocess.run(
                [sys.executable, *command], env=envs[tree.name], capture_output=True, text=True, check=True
            )
            for name, value in json.loads(done.stdout).items():
                add(name, tree.name, value)
    medians = {name: {tree: statistics.median(v) for tree, v in by.items()} for name, by in results.items()}
    return _derived(medians, config, trees)


def _reports(work: Path, sizes: Sequence[int], log: Callable[[str], None]) -> dict[int, Path]:
    from bench import generate

    catalogue = generate.catalogue()
    paths = {}
    for n in (0, *sizes):
        log(f"writing a {n}-variant report")
        path = work / f"report-{n}.json"
        path.write_text(json.dumps(generate.panel_report(n, cat=catalogue)), encoding="utf-8")
        paths[n] = path
    return paths


def _derived(
    medians: dict[str, dict[str, float]], config: Config, trees: Sequence[Tree]
) -> dict[str, dict[str, float]]:
    bare = medians["bare_python_ms"]["all"]
    out = dict(medians)
    out["help_over_bare_python"] = {t.name: medians["help_ms"][t.name] / bare for t in trees}
    fixed = medians["cli_evaluate_0_ms"]
    grown = [n for n in config.sizes if n >= GROWTH_FROM]  # below, the fixed cost is all there is
    pairs = list(itertools.pairwise(grown))
    if len(grown) > 2:
        pairs.append((grown[0], grown[-1]))
    for small, large in pairs:
        out[f"cli_growth_{small}_to_{large}"] = {
            t.name: ((medians[f"cli_evaluate_{large}_ms"][t.name] - fixed[t.name]) / large)
            / ((medians[f"cli_evaluate_{small}_ms"][t.name] - fixed[t.name]) / small)
            for t in trees
        }
    return out


def unit(name: str) -> str:
    if name.endswith("_ms"):
        return "ms"
    return "ratio"


def table(results: dict[str, dict[str, float]], trees: Sequence[Tree]) -> list[str]:
    lines = []
    for name, by in results.items():
        values = [by.get("all", by.get(t.name, float("nan"))) for t in trees]
        lines.append(" ".join([name, *(f"{v:.3g}" for v in values), unit(name)]))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--baseline", metavar="SRC", type=Path, help="the src directory of another version")
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repeats")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 5)")
    parser.add_argument(
        "--sizes", help="report sizes evaluated by the whole command (default 500,5000,50000)"
    )
    parser.add_argument("--json", action="store_true", help="the figures as one JSON document")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    if args.sizes:
        config = Config(sizes=tuple(int(s) for s in args.sizes.split(",")), repeats=config.repeats)
    if args.repeats:
        config = Config(sizes=config.sizes, repeats=args.repeats)
    if args.probe:
        print(json.dumps(probe(config.repeats)))
        return 0
    trees = [Tree("this", None)]
    if args.baseline is not None:
        if not (args.baseline / "fhir_resist" / "__init__.py").is_file():
            parser.error(f"{args.baseline} holds no fhir_resist package")
        trees = [Tree("before", args.baseline.resolve()), Tree("after", None)]
    results = figures(config, trees, lambda text: print(f"# {text}", file=sys.stderr))
    if args.json:
        document: dict[str, Any] = {
            "config": config.__dict__,
            "trees": [t.name for t in trees],
            "figures": results,
        }
        print(json.dumps(document, indent=2))
    else:
        print("# figure " + " ".join(t.name for t in trees) + " unit")
        print("\n".join(table(results, trees)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
