"""The ``fhir-resist`` command line. The only place that maps errors to exit codes.

Exit codes: 0 done; 1 internal error (a defect: one line, no traceback unless FHIR_RESIST_DEBUG
is set); 2 bad input or usage (one clear line naming file and element); 3 the FHIR server failed
(what was computed is in the outbox, or was not computed because the record could not be read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir_resist.catalogue import Catalogue, default_path, load_catalogue
from fhir_resist.catalogue.schema import Rule
from fhir_resist.config import ServerSettings, client_for, server_settings
from fhir_resist.domain import Message, PatientContext
from fhir_resist.engine.assess import CANCER_TYPE, assess
from fhir_resist.engine.model import Assessment
from fhir_resist.errors import CatalogueError, InputError, ServerError
from fhir_resist.fhir.delivery import Delivery, deliver, retry, scope_of
from fhir_resist.fhir.outbox import Outbox
from fhir_resist.fhir.read import read_context
from fhir_resist.fhir.write import WRITE_STRATEGIES, to_bundle
from fhir_resist.files import read_files
from fhir_resist.render import context_json, summary
from fhir_resist.version import VERSION

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT, EXIT_SERVER = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.run(args)
    except InputError as exc:
        print(f"fhir-resist: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ServerError as exc:
        print(f"fhir-resist: {exc}", file=sys.stderr)
        return EXIT_SERVER
    except CatalogueError as exc:
        print("fhir-resist: the catalogue is invalid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a defect in fhir_resist, never the user's input
        if os.environ.get("FHIR_RESIST_DEBUG"):
            raise
        print(
            f"fhir-resist: internal error ({type(exc).__name__}: {exc}); please report it. "
            "Set FHIR_RESIST_DEBUG=1 to see where it happened.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fhir-resist",
        description="Targeted-therapy resistance decision support on FHIR genomic reports.",
    )
    parser.add_argument("--version", action="version", version=f"fhir-resist {VERSION}")
    parser.add_argument(
        "--catalogue",
        metavar="DIR",
        help="catalogue directory (default: $FHIR_RESIST_CATALOGUE or the bundled one)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ev = commands.add_parser(
        "evaluate",
        help="evaluate FHIR files or a patient on a FHIR server; print (and write back) the results",
    )
    ev.add_argument("paths", nargs="*", metavar="PATH", help="JSON (Bundle or resource) or NDJSON files")
    ev.add_argument("--tumour", metavar="CODE", help="OncoTree code overriding the Condition")
    ev.add_argument("--patient", metavar="ID", help="the patient to evaluate when the input holds several")
    ev.add_argument("--at", metavar="DATETIME", help="evaluation time (ISO 8601; default now)")
    ev.add_argument("--out", metavar="FILE", help="write the Bundle here instead of stdout")
    ev.add_argument("--summary", action="store_true", help="print a readable summary instead of JSON")
    _server_arguments(ev)
    ev.add_argument("--write", action="store_true", help="write the results to the FHIR server")
    ev.set_defaults(run=_evaluate)

    srv = commands.add_parser("serve", help="run the CDS Hooks service and the report endpoint")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    srv.add_argument(
        "--workers",
        type=int,
        default=1,
        help="HTTP worker processes (default 1)",
    )
    srv.add_argument(
        "--processes",
        type=int,
        default=None,
        help="evaluator processes for hook calls (default: one per usable core; 0 with --workers "
        "above 1); 0 evaluates in the HTTP process",
    )
    srv.set_defaults(run=_serve)

    box = commands.add_parser("outbox", help="results kept because the FHIR server failed or refused them")
    box_sub = box.add_subparsers(dest="action", required=True)
    box_list = box_sub.add_parser("list", help="show what is waiting")
    box_list.add_argument("--json", action="store_true")
    box_retry = box_sub.add_parser("retry", help="send what is waiting again")
    box_retry.add_argument(
        "--include-rejected", action="store_true", help="also resend items the server refused (after a fix)"
    )
    box_retry.add_argument("--json", action="store_true")
    for p in (box_list, box_retry):
        _server_arguments(p)
        p.set_defaults(run=_outbox)

    ins = commands.add_parser("inspect", help="show what was understood of FHIR files")
    ins.add_argument("paths", nargs="+", metavar="PATH")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    ins.add_argument("--patient", metavar="ID", help="the patient to show when the input holds several")
    ins.set_defaults(run=_inspect)

    prof = commands.add_parser("profiles", help="write the conformance resources (profiles/)")
    prof.add_argument("directory", nargs="?", default="profiles", help="where to write (default: profiles)")
    prof.set_defaults(run=_profiles)

    cat = commands.add_parser("catalogue", help="validate and browse the resistance catalogue")
    sub = cat.add_subparsers(dest="action", required=True)
    for name, helptext in (
        ("validate", "check schema, references and per-rule cases"),
        ("list", "list the rules"),
        ("stats", "count rules by area, mechanism, level"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--json", action="store_true")
        p.set_defaults(run=_catalogue)
    schema = sub.add_parser("schema", help="print the catalogue's JSON Schema")
    schema.set_defaults(run=_schema)
    show = sub.add_parser("show", help="show one rule")
    show.add_argument("rule_id", metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=_catalogue)
    return parser


def _server_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="URL", help="FHIR server base URL (default $FHIR_RESIST_FHIR_BASE)")
    p.add_argument("--token", metavar="TOKEN", help="bearer token (default $FHIR_RESIST_FHIR_TOKEN)")
    p.add_argument("--outbox", metavar="DIR", help="outbox directory (default $FHIR_RESIST_OUTBOX)")
    p.add_argument(
        "--write-strategy",
        choices=WRITE_STRATEGIES,
        help="put: client-assigned ids (default); conditional: If-None-Exist (servers refusing client ids)",
    )


def _settings(args: argparse.Namespace) -> ServerSettings:
    return server_settings(
        base=args.server, token=args.token, outbox=args.outbox, strategy=args.write_strategy
    )


def _load(args: argparse.Namespace) -> Catalogue:
    return load_catalogue(args.catalogue) if args.catalogue else load_catalogue()


def _at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"'{text}' is not an ISO 8601 date-time", where="--at") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _read(paths: Sequence[str]) -> tuple[list[dict[str, Any]], list[Message]]:
    resources, problems = read_files([Path(p) for p in paths])
    if not resources:
        first = problems[0] if problems else None
        raise InputError(
            first.text if first else "no FHIR resources in the input", where=first.where if first else None
        )
    for problem in problems:
        print(f"fhir-resist: {problem.where}: {problem.text}", file=sys.stderr)
    return resources, problems


def _context(
    resources: list[dict[str, Any]], patient: str | None, tumour: str | None, source: str
) -> PatientContext:
    context = read_context(resources, tumour_override=tumour, patient=patient)
    if patient is None and len(context.patients) > 1:
        raise InputError(
            f"Patient: the input holds {len(context.patients)} patients ({', '.join(context.patients)}); "
            "choose one with --patient",
            where=source,
        )
    if patient is not None and context.patient not in context.patients:
        raise InputError(f"{context.patient} is not in the input", where="--patient")
    return context


def _evaluate(args: argparse.Namespace) -> int:
    catalogue = _load(args)
    settings = _settings(args)
    at = _at(args.at)
    if args.paths:
        resources, problems = _read(args.paths)
    elif args.server or settings.base:
        if not args.patient:
            raise InputError("reading from a FHIR server needs --patient ID", where="--patient")
        resources, problems = client_for(settings).patient_resources(_patient_ref(args.patient) or ""), []
    else:
        raise InputError("give FHIR files to evaluate, or --server URL --patient ID", where="evaluate")
    source = ", ".join(args.paths) if args.paths else (args.server or settings.base or "FHIR server")
    context = _context(resources, _patient_ref(args.patient), args.tumour, source)
    if problems:
        context = replace(context, messages=(*problems, *context.messages))
    assessment = assess(context, catalogue, at)
    bundle = to_bundle(assessment, strategy=settings.strategy)
    text = summary(assessment) if args.summary else json.dumps(bundle, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    hint = _cancer_type_hint(assessment, args.tumour)
    if hint:
        print(f"fhir-resist: {hint}", file=sys.stderr)
    if not args.write:
        return EXIT_OK
    delivery = deliver(client_for(settings), bundle, scope_of(assessment), Outbox(settings.outbox))
    print(f"fhir-resist: {_delivered(delivery)}", file=sys.stderr)
    return EXIT_OK if delivery.outcome == "delivered" else EXIT_SERVER


def _cancer_type_hint(assessment: Assessment, tumour: str | None) -> str | None:
    """The option that settles the cancer type, when the assessment says it was in doubt."""
    if not any(m.where == CANCER_TYPE for m in assessment.messages):
        return None
    if tumour:  # a known code is used without a word; only an unknown one leads here
        return f"--tumour {tumour}: not an OncoTree code in the catalogue; the recorded Conditions were used"
    return "several cancer types are recorded; choose one with --tumour ONCOTREE"


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from fhir_resist.cdshooks.app import ServiceSettings, create_app
    from fhir_resist.cdshooks.evaluators import usable_cores
    from fhir_resist.cdshooks.tuning import tune_gc

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ServiceSettings.from_env()
    except (ValueError, OSError) as exc:
        raise InputError(str(exc), where="service configuration") from exc
    if settings.auth == "off":
        print(
            "fhir-resist: FHIR_RESIST_CDS_AUTH=off: callers are NOT authenticated (local development only)",
            file=sys.stderr,
        )
    elif not settings.trust.issuers:
        print(
            "fhir-resist: no trusted CDS clients (FHIR_RESIST_CDS_ISSUERS): every hook call will be refused",
            file=sys.stderr,
        )
    catalogue = _load(args)  # checked here, so a broken catalogue stops the start with its problems
    processes = args.processes
    if processes is None:  # one evaluator per core, unless configured or several HTTP workers share them
        configured = bool(os.environ.get("FHIR_RESIST_PROCESSES"))
        processes = settings.processes if configured else 0 if args.workers > 1 else usable_cores()
    if processes < 0:
        raise InputError("must be 0 or more", where="--processes")
    if args.catalogue:
        os.environ["FHIR_RESIST_CATALOGUE"] = str(Path(args.catalogue).resolve())
    settings = replace(
        settings,
        processes=processes,
        catalogue_path=Path(args.catalogue).resolve() if args.catalogue else settings.catalogue_path,
    )
    if args.workers > 1:
        os.environ["FHIR_RESIST_PROCESSES"] = str(processes)
        uvicorn.run(
            "fhir_resist.cdshooks.app:service_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
        )
    else:
        app = create_app(settings, catalogue=catalogue)
        tune_gc()
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return EXIT_OK


def _patient_ref(patient: str | None) -> str | None:
    return patient.removeprefix("Patient/") if patient else None


def _delivered(delivery: Delivery) -> str:
    if delivery.outcome == "delivered":
        withdrawn = f"; withdrew {len(delivery.withdrawn)} earlier issue(s)" if delivery.withdrawn else ""
        return (
            f"wrote {len(delivery.written)} resources to {delivery.server} "
            f"({delivery.created} created, {delivery.unchanged_or_updated} updated or unchanged){withdrawn}"
        )
    verb = "kept as pending" if delivery.outcome == "queued" else "rejected by the server; kept"
    return f"{delivery.error}\nfhir-resist: the result was {verb} in {delivery.outbox_path}"


def _outbox(args: argparse.Namespace) -> int:
    settings = _settings(args)
    outbox = Outbox(settings.outbox)
    if args.action == "list":
        items, problems = outbox.items()
        for problem in problems:
            print(f"fhir-resist: {problem.where}: {problem.text}", file=sys.stderr)
        rows = [
            {
                "key": i.key,
                "state": i.state,
                "server": i.server,
                "patient": i.scope.patient,
                "created": i.created,
                "attempts": i.attempts,
                "error": i.error,
                "file": str(i.path),
            }
            for i in items
        ]
        if args.json:
            print(json.dumps(rows, indent=2))
        elif not rows:
            print(f"the outbox ({outbox.directory}) is empty")
        for row in [] if args.json else rows:
            print(
                f"{row['state']:8} {row['created']}  {row['patient']}  -> {row['server']}  "
                f"({row['attempts']} attempts)"
            )
            print(f"         {row['error']}")
        return EXIT_OK
    results = retry(
        lambda server: client_for(settings, args.server or server),
        outbox,
        include_rejected=args.include_rejected,
    )
    if args.json:
        print(json.dumps([d.as_json() for _, d in results], indent=2))
    else:
        for _, delivery in results:
            print(f"{delivery.key}: {_delivered(delivery)}")
        if not results:
            print("nothing to retry")
    return EXIT_OK if all(d.outcome == "delivered" for _, d in results) else EXIT_SERVER


def _inspect(args: argparse.Namespace) -> int:
    resources, problems = _read(args.paths)
    context = _context(resources, args.patient, None, ", ".join(args.paths))
    data = context_json(context, problems)
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    print(f"patient: {data['patient']}")
    for alt in data["alterations"]:
        print(f"  {alt['call']:8} {alt['label']:40} {alt['source']}")
    for therapy in data["therapies"]:
        print(f"  therapy  {therapy['label']:40} {therapy['source']} ({therapy['status']})")
    for tumour in data["tumours"]:
        print(f"  tumour   {tumour['label']:40} {tumour['source']}")
    for message in data["messages"]:
        print(f"  {message['severity']:8} {message['where']}: {message['text']}")
    return EXIT_OK


def _catalogue(args: argparse.Namespace) -> int:
    catalogue = _load(args)
    rows = [_rule_row(catalogue, r) for r in catalogue.rules]
    if args.action == "validate":
        from fhir_resist.catalogue.cases import run_cases

        failures = run_cases(catalogue)
        where = args.catalogue or str(default_path())
        if failures:
            for failure in failures:
                print(f"  {failure}", file=sys.stderr)
            print(f"fhir-resist: {len(failures)} rule case(s) failed in {where}", file=sys.stderr)
            return EXIT_INPUT
        cases = sum(len(r.cases) for r in catalogue.rules)
        msg = {"valid": True, "version": catalogue.version, "rules": len(rows), "cases": cases}
        print(
            json.dumps(msg)
            if args.json
            else f"catalogue {catalogue.version}: {len(rows)} rules, {cases} cases, all valid"
        )
        return EXIT_OK
    if args.action == "list":
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(
                    f"{row['id']:48} {row['effect']:16} {row['mechanism']:18} {row['level']}  {row['title']}"
                )
        return EXIT_OK
    if args.action == "show":
        rule = catalogue.rule(args.rule_id)
        if rule is None:
            raise InputError(
                f"no rule '{args.rule_id}' in catalogue {catalogue.version}", where="catalogue show"
            )
        data = rule.model_dump(mode="json", exclude_defaults=True)
        print(json.dumps(data, indent=2) if args.json else _yaml(data))
        return EXIT_OK
    stats = _stats(rows)
    print(
        json.dumps(stats, indent=2)
        if args.json
        else "\n".join(
            f"{group}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            for group, counts in stats.items()
        )
    )
    return EXIT_OK


def _profiles(args: argparse.Namespace) -> int:
    from fhir_resist.fhir.profiles import conformance_resources

    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    resources = conformance_resources(_load(args))
    for name, resource in resources.items():
        (target / name).write_text(json.dumps(resource, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(resources)} files to {target}")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from fhir_resist.catalogue.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def _rule_row(catalogue: Catalogue, rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "file": catalogue.rule_files.get(rule.id),
        "effect": rule.effect.value,
        "mechanism": rule.mechanism.value,
        "level": rule.evidence.level.value,
        "tumours": list(rule.tumours.include),
        "timing": [t.value for t in rule.timing],
        "genes": sorted({p.gene or p.kind for p in rule.alterations}),
    }


def _stats(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {
        "rules": {"total": len(rows)},
        "tumour": {},
        "mechanism": {},
        "level": {},
        "effect": {},
        "gene": {},
    }
    for row in rows:
        for tumour in row["tumours"]:
            stats["tumour"][tumour] = stats["tumour"].get(tumour, 0) + 1
        for key in ("mechanism", "level", "effect"):
            stats[key][row[key]] = stats[key].get(row[key], 0) + 1
        for gene in row["genes"]:
            stats["gene"][gene] = stats["gene"].get(gene, 0) + 1
    return stats


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
