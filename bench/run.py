"""Measure fhir_resist: evaluation cost against the JSON parse floor, against naive FHIR model
validation, bulk throughput, and growth with report and catalogue size.

    python bench/run.py                 # full run (sizes 50, 500, 5000; 1,000 patients)
    python bench/run.py --quick         # smoke run: small sizes, few repeats
    python bench/run.py --json          # the same figures as one JSON document
    python bench/run.py --profile 500   # cProfile of evaluate + to_bundle for a 500-variant report

Every figure is printed as ``name value unit``. Times are medians over ``--repeats`` runs
(``time.perf_counter``); a ratio divides two medians measured in the same run, interleaved.
See bench/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import yaml

import fhir_resist
from fhir_resist import Catalogue
from fhir_resist.catalogue import default_path
from fhir_resist.catalogue.hgnc import read_table
from fhir_resist.fhir.read import read_context
from fhir_resist.files import read_files
from fhir_resist.version import VERSION

if not __package__:  # run as a script (python bench/run.py): the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generate

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (50, 500, 5000)
    repeats: int = 7
    patients: int = 1000
    patient_variants: int = 50
    bulk_repeats: int = 7
    catalogue_size: int = 500  # report size for the catalogue-growth figures
    seed: int = 0
    keep_gc: bool = False  # True: leave the garbage collector running during timed calls


FULL = Config()
QUICK = Config(
    sizes=(20, 100), repeats=3, patients=20, patient_variants=20, bulk_repeats=1, catalogue_size=100
)


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str

    def line(self) -> str:
        return f"{self.name} {self.value:.4g} {self.unit}"


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str) -> None:
        self.figures.append(Figure(name, value, unit))


# --------------------------------------------------------------------------- timing


def _time(fn: Callable[[], object], *, keep_gc: bool) -> float:
    """Seconds of one call. As ``timeit`` does, the cyclic garbage collector is paused during the
    call (after a full collection) unless ``keep_gc``: with a large parsed report alive its
    collections cost more than the parse itself, and that cost says little about fhir_resist."""
    gc.collect()
    paused = not keep_gc and gc.isenabled()
    if paused:
        gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        if paused:
            gc.enable()


def interleaved(repeats: int, *, keep_gc: bool = False, **fns: Callable[[], object]) -> dict[str, float]:
    """Median seconds of each function, the functions run in turn within every repeat.

    One unmeasured warm-up call each first (imports, caches), then ``repeats`` rounds.
    """
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_time(fn, keep_gc=keep_gc))
    return {name: statistics.median(values) for name, values in samples.items()}


def has_orjson() -> bool:
    return importlib.util.find_spec("orjson") is not None


# --------------------------------------------------------------------------- workloads


def evaluate_once(parsed: Mapping[str, Any], catalogue: Catalogue) -> fhir_resist.Assessment:
    """read_context + engine on an already parsed Bundle (evaluate does not change its input)."""
    return fhir_resist.evaluate([parsed], catalogue=catalogue, at=AT)


def bundle_once(parsed: Mapping[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    """``evaluate_once`` and the transaction Bundle written from it."""
    return fhir_resist.to_bundle(evaluate_once(parsed, catalogue))


def r4b_validate(resources: Iterable[Mapping[str, Any]]) -> int:
    """What a naive implementation pays: every input resource through its fhir.resources model."""
    from fhir.resources.R4B import get_fhir_model_class

    count = 0
    for resource in resources:
        get_fhir_model_class(str(resource["resourceType"])).model_validate(dict(resource))
        count += 1
    return count


def entries(bundle: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def by_patient(resources: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Group resources by the patient they belong to (Patient id, or subject / patient reference).

    Resources of no patient (the laboratory Organization) are left out: nothing reads them.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources:
        key: object
        if resource.get("resourceType") == "Patient":
            key = f"Patient/{resource.get('id')}"
        else:
            holder = resource.get("subject") or resource.get("patient")
            key = holder.get("reference") if isinstance(holder, Mapping) else None
        if isinstance(key, str) and key.startswith("Patient/"):
            groups.setdefault(key, []).append(resource)
    return groups


def bulk(path: Path, catalogue: Catalogue, *, bundles: bool = False) -> int:
    """Read an NDJSON export, group it by patient and evaluate each patient; return the count."""
    resources, problems = read_files([path])
    if problems:
        raise RuntimeError(f"the generated NDJSON has problems: {problems[:3]}")
    count = 0
    for patient, group in by_patient(resources).items():
        assessment = fhir_resist.evaluate(group, catalogue=catalogue, at=AT, patient=patient)
        if bundles:
            fhir_resist.to_bundle(assessment)
        count += 1
    return count


def doubled_catalogue(target: Path, source: Path | None = None) -> Path:
    """A copy of the catalogue with every rule duplicated under a new id (``<id>-copy``).

    Rule ids must be unique and equal to the file name (the lint checks both); the copy keeps
    the rule's own cases, which still hold because they test the rule by its own id.
    """
    source = source or default_path()
    root = target / "catalogue"
    shutil.copytree(source, root)
    for file in sorted((root / "rules").rglob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        rule_id = yaml.safe_load(text)["id"]
        copied, replaced = _RULE_ID.subn(f"id: {rule_id}-copy", text, count=1)
        if replaced != 1:
            raise ValueError(f"{file}: no top-level 'id:' line to rename")
        file.with_name(f"{rule_id}-copy.yaml").write_text(copied, encoding="utf-8")
    return root


_RULE_ID = re.compile(r"^id: *\S+ *$", re.MULTILINE)


# --------------------------------------------------------------------------- the figures


def figure_names(config: Config, *, orjson: bool | None = None) -> list[str]:
    """Every figure ``figures(config)`` reports, in order."""
    orjson = has_orjson() if orjson is None else orjson
    names: list[str] = []
    for n in config.sizes:
        names += [f"parse_floor_{n}_ms"]
        if orjson:
            names += [f"orjson_floor_{n}_ms"]
        names += [
            f"read_{n}_ms",
            f"read_{n}_over_parse_floor",
            f"evaluate_{n}_ms",
            f"evaluate_{n}_over_parse_floor",
            f"evaluate_bundle_{n}_ms",
            f"evaluate_bundle_{n}_over_parse_floor",
        ]
        if orjson:
            names += [f"evaluate_{n}_over_orjson_floor"]
        names += [
            f"r4b_validate_{n}_ms",
            f"r4b_validate_{n}_over_parse_floor",
            f"evaluate_{n}_over_r4b_validate",
            f"evaluate_{n}_us_per_alteration",
        ]
    for small, large in zip(config.sizes, config.sizes[1:], strict=False):
        names += [f"evaluate_growth_{small}_to_{large}"]
    names += [
        "serial_3_reports_ms",
        "bulk_patients_per_s",
        "bulk_bundles_patients_per_s",
        "catalogue_rules",
        "catalogue_doubled_rules",
        f"evaluate_{config.catalogue_size}_catalogue_doubled_ms",
        f"evaluate_{config.catalogue_size}_catalogue_doubled_over_single",
        "hgnc_table_load_ms",
    ]
    return names


def figures(config: Config = FULL, *, log: Callable[[str], None] | None = None) -> list[Figure]:
    """Measure everything; ``log`` hears about progress."""
    say = log or (lambda _text: None)
    results = Results()
    catalogue = fhir_resist.load_catalogue()
    orjson_loads = _orjson_loads()
    per_alteration: dict[int, float] = {}

    for n in config.sizes:
        bundle = generate.panel_report(n, seed=config.seed)
        data = generate.dumps(bundle)
        parsed = json.loads(data)
        resources = entries(parsed)
        say(f"report {n}: {len(data) / 1e6:.1f} MB, {len(resources)} resources")
        fns: dict[str, Callable[[], object]] = {
            "parse": partial(json.loads, data),
            "read": partial(read_context, [parsed], rules=catalogue.reading),
            "evaluate": partial(evaluate_once, parsed, catalogue),
            "bundle": partial(bundle_once, parsed, catalogue),
            "r4b": partial(r4b_validate, resources),
        }
        if orjson_loads is not None:
            fns["orjson"] = partial(orjson_loads, data)
        t = interleaved(config.repeats, keep_gc=config.keep_gc, **fns)
        evaluate_s, bundle_s = t["evaluate"], t["bundle"]
        results.add(f"parse_floor_{n}_ms", t["parse"] * 1e3, "ms")
        if orjson_loads is not None:
            results.add(f"orjson_floor_{n}_ms", t["orjson"] * 1e3, "ms")
        results.add(f"read_{n}_ms", t["read"] * 1e3, "ms")
        results.add(f"read_{n}_over_parse_floor", t["read"] / t["parse"], "ratio")
        results.add(f"evaluate_{n}_ms", evaluate_s * 1e3, "ms")
        results.add(f"evaluate_{n}_over_parse_floor", evaluate_s / t["parse"], "ratio")
        results.add(f"evaluate_bundle_{n}_ms", bundle_s * 1e3, "ms")
        results.add(f"evaluate_bundle_{n}_over_parse_floor", bundle_s / t["parse"], "ratio")
        if orjson_loads is not None:
            results.add(f"evaluate_{n}_over_orjson_floor", evaluate_s / t["orjson"], "ratio")
        results.add(f"r4b_validate_{n}_ms", t["r4b"] * 1e3, "ms")
        results.add(f"r4b_validate_{n}_over_parse_floor", t["r4b"] / t["parse"], "ratio")
        results.add(f"evaluate_{n}_over_r4b_validate", evaluate_s / t["r4b"], "ratio")
        per_alteration[n] = evaluate_s / generate.expected_alterations(n)
        results.add(f"evaluate_{n}_us_per_alteration", per_alteration[n] * 1e6, "us")

    for small, large in zip(config.sizes, config.sizes[1:], strict=False):
        results.add(
            f"evaluate_growth_{small}_to_{large}", per_alteration[large] / per_alteration[small], "ratio"
        )

    serial = [generate.dumps(b) for b in generate.serial_reports(config.patient_variants, seed=config.seed)]
    t = interleaved(
        config.repeats,
        keep_gc=config.keep_gc,
        serial=lambda: fhir_resist.evaluate([json.loads(d) for d in serial], catalogue=catalogue, at=AT),
    )
    results.add("serial_3_reports_ms", t["serial"] * 1e3, "ms")

    with tempfile.TemporaryDirectory(prefix="fhir-resist-bench-") as tmp:
        path = Path(tmp) / "patients.ndjson"
        with path.open("w", encoding="utf-8") as out:
            out.writelines(
                generate.ndjson(generate.patients(config.patients, config.patient_variants, seed=config.seed))
            )
        say(f"bulk: {config.patients} patients, {path.stat().st_size / 1e6:.1f} MB of NDJSON")
        t = interleaved(
            config.bulk_repeats,
            keep_gc=config.keep_gc,
            bulk=lambda: bulk(path, catalogue),
            bundles=lambda: bulk(path, catalogue, bundles=True),
        )
        results.add("bulk_patients_per_s", config.patients / t["bulk"], "patients/s")
        results.add("bulk_bundles_patients_per_s", config.patients / t["bundles"], "patients/s")

        say("catalogue: doubling every rule")
        doubled = fhir_resist.load_catalogue(doubled_catalogue(Path(tmp)))
        parsed = generate.panel_report(config.catalogue_size, seed=config.seed)
        t = interleaved(
            config.repeats,
            keep_gc=config.keep_gc,
            single=lambda: evaluate_once(parsed, catalogue),
            doubled=lambda: evaluate_once(parsed, doubled),
        )
        results.add("catalogue_rules", len(catalogue.rules), "rules")
        results.add("catalogue_doubled_rules", len(doubled.rules), "rules")
        single_s, doubled_s = t["single"], t["doubled"]
        results.add(f"evaluate_{config.catalogue_size}_catalogue_doubled_ms", doubled_s * 1e3, "ms")
        results.add(
            f"evaluate_{config.catalogue_size}_catalogue_doubled_over_single", doubled_s / single_s, "ratio"
        )

    # HGNC's complete table, read once per process the first time a gene outside the catalogue's
    # genes is named by id or symbol: this is that one-off cost.
    table = catalogue.hgnc_table
    if table is None:
        raise ValueError("the catalogue has no HGNC table (reference/hgnc.tsv)")
    t = interleaved(config.repeats, keep_gc=config.keep_gc, hgnc=partial(read_table, table))
    results.add("hgnc_table_load_ms", t["hgnc"] * 1e3, "ms")
    return results.figures


def _orjson_loads() -> Callable[[bytes], object] | None:
    if not has_orjson():
        return None
    import orjson  # a dependency (files.parse_json); still looked for: older versions lack it

    loads: Callable[[bytes], object] = orjson.loads
    return loads


def profile(size: int, *, top: int = 25, seed: int = 0, sort: str = "cumulative") -> str:
    """cProfile of evaluate + to_bundle for one ``size``-variant report (after a warm-up run)."""
    catalogue = fhir_resist.load_catalogue()
    data = generate.dumps(generate.panel_report(size, seed=seed))
    fhir_resist.to_bundle(evaluate_once(json.loads(data), catalogue))
    resources = [json.loads(data)]
    gc.collect()
    profiler = cProfile.Profile()
    profiler.enable()
    fhir_resist.to_bundle(fhir_resist.evaluate(resources, catalogue=catalogue, at=AT))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()


def _environment() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cpus": os.cpu_count(),
        "fhir_resist": VERSION,
        "orjson": has_orjson(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes and few repeats")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 7; quick 3)")
    parser.add_argument("--patients", type=int, help="patients in the bulk run (default 1000)")
    parser.add_argument("--sizes", help="report sizes, comma-separated (default 50,500,5000)")
    parser.add_argument(
        "--keep-gc", action="store_true", help="leave the garbage collector on during timed calls"
    )
    parser.add_argument("--profile", type=int, metavar="SIZE", help="print a cProfile of one report and stop")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key (cumulative, tottime)")
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(args.profile, sort=args.sort))
        return 0
    config = QUICK if args.quick else FULL
    overrides: dict[str, Any] = {
        key: value for key, value in (("repeats", args.repeats), ("patients", args.patients)) if value
    }
    if args.keep_gc:
        overrides["keep_gc"] = True
    if args.sizes:
        overrides["sizes"] = tuple(int(size) for size in args.sizes.split(","))
    config = Config(**{**asdict(config), **overrides})
    log = None if args.json else (lambda text: print(f"# {text}", file=sys.stderr))
    measured = figures(config, log=log)
    if args.json:
        document = {
            "config": asdict(config),
            "environment": _environment(),
            "figures": [asdict(f) for f in measured],
        }
        print(json.dumps(document, indent=2))
    else:
        for figure in measured:
            print(figure.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
