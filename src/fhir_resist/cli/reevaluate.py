"""``reevaluate``: a population's NDJSON re-evaluated, compared with the last results, the changes out.

Standard error: a progress line on a terminal (a line per patient elsewhere), each patient not
evaluated with its reason, and the totals; the summary table goes to ``--summary`` (CSV) and
``--parquet``. The population extra (``pip install "fhir-resist[population]"``: fsspec, pyarrow,
dask.distributed) is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from fhir_resist.cli.exit_codes import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_SERVER
from fhir_resist.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fhir_resist.batch import Evaluated, Options
    from fhir_resist.config import ServerSettings
    from fhir_resist.reevaluation.engines import Engine
    from fhir_resist.reevaluation.report import Row, Totals
    from fhir_resist.reevaluation.run import Plan
    from fhir_resist.reevaluation.sources import Source


def add_reevaluate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    re = commands.add_parser(
        "reevaluate",
        help="re-evaluate a population's NDJSON (a Bulk Data export) and report what changed",
        description="Re-evaluate every patient of NDJSON files or directories (local paths or fsspec URLs: "
        "s3://, gs://, file://) and compare each result with the last one written.",
    )
    re.add_argument("inputs", nargs="+", metavar="INPUT", help="NDJSON files or directories")
    earlier = re.add_mutually_exclusive_group()
    earlier.add_argument(
        "--previous", metavar="DIR", help="the last results: a directory of <id>.json Bundles"
    )
    earlier.add_argument(
        "--server", metavar="URL", help="the last results: our resources on this FHIR server"
    )
    re.add_argument(
        "--catalogue-before",
        metavar="DIR",
        help="the catalogue before the change: only the patients the changed rules touch are re-evaluated",
    )
    re.add_argument(
        "--scheduler",
        metavar="ADDR",
        help="Dask: 'local' (a LocalCluster) or tcp://host:8786; default: worker processes on this machine",
    )
    re.add_argument("--workers", type=int, metavar="N", help="worker processes (default: every core)")
    re.add_argument("--summary", metavar="OUT.csv", help="write the summary table as CSV")
    re.add_argument("--parquet", metavar="OUT.parquet", help="write the summary table as Parquet")
    re.add_argument("--out-dir", metavar="DIR", help="write each new result here (<id>.json)")
    re.add_argument("--write", metavar="URL", help="write the changed results back to this FHIR server")
    re.add_argument("--token", metavar="TOKEN", help="bearer token (default $FHIR_RESIST_FHIR_TOKEN)")
    re.add_argument("--outbox", metavar="DIR", help="outbox directory (default $FHIR_RESIST_OUTBOX)")
    re.add_argument("--at", metavar="DATETIME", help="evaluation time (default: now)")
    re.set_defaults(run=run_reevaluate)  # fmt: skip


def run_reevaluate(args: argparse.Namespace) -> int:
    from fhir_resist.batch import Options, default_workers
    from fhir_resist.catalogue import default_path
    from fhir_resist.cli.evaluate import _at
    from fhir_resist.config import server_settings
    from fhir_resist.reevaluation.report import Table, Totals

    if args.workers is not None and args.workers < 1:
        raise InputError("at least 1", where="--workers")
    _needs_extra()
    settings = server_settings(token=args.token, outbox=args.outbox, base=args.write or args.server)
    catalogue = str(args.catalogue or default_path())
    options = Options(_at(args.at), settings.strategy, repair_unicode=False)
    plan = _plan(args, settings, catalogue)
    from fhir_resist.reevaluation.sources import sources

    inputs = sources(args.inputs)
    engine = _engine(args, catalogue, options, args.workers or default_workers())
    totals, table = Totals(), Table(args.summary, args.parquet)
    try:
        _run(inputs, engine, plan, totals, table)
    finally:
        table.close()
        engine.close()
        if plan.write is not None:
            plan.write.close()
    for line in totals.lines():
        print(f"fhir-resist: {line}", file=sys.stderr)
    return _exit_code(totals)


def _needs_extra() -> None:
    import importlib.util

    missing = [m for m in ("fsspec", "pyarrow") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(
            f"needs {', '.join(missing)}: pip install 'fhir-resist[population]'", where="reevaluate"
        )


def _plan(args: argparse.Namespace, settings: ServerSettings, catalogue: str) -> Plan:
    from pathlib import Path

    from fhir_resist.reevaluation.run import Plan

    plan = Plan(on_unsaved=_print_unsaved)
    if args.previous:
        from fhir_resist.reevaluation.previous import PreviousDirectory

        plan.previous = PreviousDirectory(args.previous)
    elif args.server:
        from fhir_resist.config import client_for
        from fhir_resist.reevaluation.previous import PreviousOnServer

        plan.previous = PreviousOnServer(client_for(settings, args.server))
    if args.catalogue_before:
        from fhir_resist.catalogue import load_catalogue
        from fhir_resist.reevaluation.affected import catalogue_change
        from fhir_resist.reevaluation.run import Selection

        after = load_catalogue(catalogue)
        plan.selection = Selection(catalogue_change(load_catalogue(args.catalogue_before), after), after)
        print(f"fhir-resist: {_described(plan.selection)}", file=sys.stderr)
    if args.out_dir:
        plan.out_dir = Path(args.out_dir)
        plan.out_dir.mkdir(parents=True, exist_ok=True)
    if args.write:
        from fhir_resist.config import client_for
        from fhir_resist.fhir.outbox import Outbox
        from fhir_resist.reevaluation.writeback import WriteBack

        outbox = Outbox(settings.outbox)
        outbox.ensure_writable()  # a result the server fails must have somewhere to wait
        plan.write = WriteBack(client_for(settings, args.write), outbox)
    return plan


def _described(selection: object) -> str:
    change = selection.change  # type: ignore[attr-defined]
    return (
        f"catalogue change: {len(change.added)} rule(s) added, {len(change.removed)} removed, "
        f"{len(change.edited)} edited ({', '.join(sorted(change.rules)) or 'none'})"
    )


def _engine(args: argparse.Namespace, catalogue: str, options: Options, workers: int) -> Engine:
    if args.scheduler:
        from fhir_resist.reevaluation.dask_engine import DaskEngine, check_address

        check_address(args.scheduler)
        return DaskEngine(args.scheduler, workers, catalogue, options)
    from fhir_resist.reevaluation.engines import local_engine

    return local_engine(workers, catalogue, options)


def _run(inputs: Sequence[Source], engine: Engine, plan: Plan, totals: Totals, table: object) -> None:
    from fhir_resist.cli.population import Progress
    from fhir_resist.reevaluation.run import reevaluate

    run = reevaluate(inputs, engine, plan)
    for problem in run.problems:
        print(f"fhir-resist: {problem.where}: {problem.text}", file=sys.stderr)
    seen = len(run.problems)
    show = Progress(sys.stderr, max(1, run.patients_expected))
    for rows in run.rows:
        for problem in run.problems[seen:]:
            show.line((f"{problem.where}: {problem.text}", True))
        seen = len(run.problems)
        for row in rows:
            totals.add(row)
            show.total = max(show.total, show.count + 1)
            show.line(_line(row))
            show.step()
        table.write(rows)  # type: ignore[attr-defined]
    show.done()
    totals.problems.extend((p.where, p.text) for p in run.problems)


def _line(row: Row) -> tuple[str, bool]:
    if row.outcome == "failed":
        return f"{row.patient}: not evaluated: {row.error}", True
    if row.outcome == "not-affected":
        return f"{row.patient}: not affected by the catalogue change", False
    if row.change == "first":
        said = f"{row.patient}: first result, {row.alerts} alert(s)"
    else:
        said = f"{row.patient}: {row.change}" + (f" ({row.changes})" if row.changes else "")
    if row.written:
        said += f"; write-back: {row.written}"
    return said, row.written not in ("", "delivered", "superseded")


def _print_unsaved(result: Evaluated) -> None:
    """A result neither sent nor kept in the outbox, and no --out-dir: printed, never lost."""
    import json

    print(json.dumps(result.bundle, separators=(",", ":")))
    print(f"fhir-resist: {result.patient}: not sent and not in the outbox; its Bundle is on standard output",
          file=sys.stderr)  # fmt: skip


def _exit_code(totals: Totals) -> int:
    if any("internal error" in reason for _, reason in totals.errors):
        return EXIT_INTERNAL
    if totals.not_written:
        return EXIT_SERVER
    return EXIT_INPUT if totals.errors or totals.problems else EXIT_OK
