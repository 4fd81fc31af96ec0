"""The commands that read one patient's FHIR records: ``evaluate`` (assess them, print the results
and write them back) and ``inspect`` (show what was understood)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fhir_resist.cli.exit_codes import EXIT_INPUT, EXIT_OK, EXIT_SERVER
from fhir_resist.cli.options import add_server_options, catalogue_from, server_settings_from
from fhir_resist.errors import InputError

# The reader, engine, writer and FHIR client, and the standard library's heavier modules (json,
# dataclasses, datetime, pathlib), are imported when a command runs: ``--help`` pays for none.
if TYPE_CHECKING:
    from datetime import datetime

    from fhir_resist.catalogue import Catalogue
    from fhir_resist.domain import Alteration, Message, PatientContext
    from fhir_resist.engine.model import Assessment
    from fhir_resist.reading_rules import ReadingRules


def add_evaluate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    add_server_options(ev)
    ev.add_argument("--write", action="store_true", help="write the results to the FHIR server")
    many = ev.add_argument_group("many patients")
    many.add_argument(
        "--all-patients", action="store_true", help="evaluate every patient in the files, on every core"
    )
    many.add_argument("--out-dir", metavar="DIR", help="write one result per patient here (<id>.json)")
    many.add_argument("--workers", type=int, metavar="N", help="processes to use (default: every core)")
    ev.set_defaults(run=_evaluate)


def add_inspect(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ins = commands.add_parser("inspect", help="show what was understood of FHIR files")
    ins.add_argument("paths", nargs="+", metavar="PATH")
    ins.add_argument("--json", action="store_true", help="machine-readable output")
    ins.add_argument("--patient", metavar="ID", help="the patient to show when the input holds several")
    ins.set_defaults(run=_inspect)


def _evaluate(args: argparse.Namespace) -> int:
    import json

    from fhir_resist.cli.outbox import delivered, keep_unsaved
    from fhir_resist.config import client_for
    from fhir_resist.engine.assess import assess
    from fhir_resist.fhir.delivery import deliver, scope_of
    from fhir_resist.fhir.outbox import Outbox
    from fhir_resist.fhir.write import to_bundle
    from fhir_resist.render import summary

    if args.all_patients:
        from fhir_resist.cli.population import check_options

        check_options(args)
    elif args.out_dir or args.workers is not None:
        raise InputError("--out-dir and --workers go with --all-patients", where="evaluate")
    catalogue = _ready(args)
    settings = server_settings_from(args)
    if args.write and settings.base:  # a result the server fails must have somewhere to wait
        Outbox(settings.outbox).ensure_writable()
    if args.all_patients:
        from fhir_resist.cli.population import evaluate_population

        return evaluate_population(args, settings, args.catalogue)
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
    context = _context(
        resources, _patient_ref(args.patient), args.tumour, source, catalogue.reading, problems
    )
    assessment = assess(context, catalogue, at)
    bundle = to_bundle(assessment, strategy=settings.strategy)
    _show(summary(assessment) if args.summary else json.dumps(bundle, indent=2), args.out)
    hint = _cancer_type_hint(assessment, args.tumour)
    if hint:
        print(f"fhir-resist: {hint}", file=sys.stderr)
    flaws = _input_flaws(problems, args.tumour, catalogue)
    if not args.write:
        return EXIT_INPUT if flaws else EXIT_OK
    refusal = _write_refusal(assessment, flaws)
    if refusal:
        print(f"fhir-resist: --write refused: {refusal}; nothing was written", file=sys.stderr)
        return EXIT_INPUT
    delivery = deliver(client_for(settings), bundle, scope_of(assessment), Outbox(settings.outbox))
    if delivery.outcome == "unsaved":
        return keep_unsaved(delivery, bundle, summary=args.summary, out=args.out)
    print(f"fhir-resist: {delivered(delivery)}", file=sys.stderr)
    return EXIT_OK if delivery.outcome == "delivered" else EXIT_SERVER


def _show(text: str, out: str | None) -> None:
    """The text on standard output, or written to the file ``out``."""
    if out:
        from pathlib import Path

        Path(out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def _inspect(args: argparse.Namespace) -> int:
    import json

    from fhir_resist.render import context_json, coverage_text

    resources, problems = _read(args.paths)
    catalogue = _ready(args)  # inspect reads text with the same words evaluate does
    context = _context(resources, args.patient, None, ", ".join(args.paths), catalogue.reading)
    data = context_json(_named(context, catalogue), problems)
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_INPUT if problems else EXIT_OK
    print(f"patient: {data['patient']}")
    for alt in data["alterations"]:
        print(f"  {alt['call']:8} {alt['label']:40} {alt['source']}")
    for therapy in data["therapies"]:
        print(f"  therapy  {therapy['label']:40} {therapy['source']} ({therapy['status']})")
    for tumour in data["tumours"]:
        print(f"  tumour   {tumour['label']:40} {tumour['source']}")
    for report in data["reports"]:
        print(f"  report   {report['source']}: {coverage_text(report['coverage'])}")
    for message in data["messages"]:
        print(f"  {message['severity']:8} {message['where']}: {message['text']}")
    return EXIT_INPUT if problems else EXIT_OK


def _ready(args: argparse.Namespace) -> Catalogue:
    """The catalogue; in the program's own process, the garbage collector then set as the
    service's: what is alive now (catalogue, modules) is frozen out of collection, and collections
    run less often. Otherwise collections that walk everything the process holds cost about half
    of a large report's evaluation, and more the larger it is."""
    catalogue = catalogue_from(args)
    if getattr(args, "own_process", False):
        from fhir_resist.cdshooks.tuning import tune_gc

        tune_gc()
    return catalogue


def _at(text: str | None) -> datetime:
    from datetime import UTC, datetime

    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"'{text}' is not an ISO 8601 date-time", where="--at") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _read(paths: Sequence[str]) -> tuple[list[dict[str, Any]], list[Message]]:
    from pathlib import Path

    from fhir_resist.files import read_files

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
    resources: list[dict[str, Any]],
    patient: str | None,
    tumour: str | None,
    source: str,
    rules: ReadingRules | None,
    problems: Sequence[Message] = (),
) -> PatientContext:
    """What the resources say of the patient (the only one, or ``patient``), with the problems
    met reading the files first among its messages."""
    from dataclasses import replace

    from fhir_resist.fhir.read import read_context

    context = read_context(resources, tumour_override=tumour, patient=patient, rules=rules)
    if problems:
        context = replace(context, messages=(*problems, *context.messages))
    if patient is None and len(context.patients) > 1:
        raise InputError(
            f"Patient: the input holds {len(context.patients)} patients ({', '.join(context.patients)}); "
            "choose one with --patient",
            where=source,
        )
    if patient is not None and context.patient not in context.patients:
        raise InputError(f"{context.patient} is not in the input", where="--patient")
    return context


def _named(context: PatientContext, catalogue: Catalogue) -> PatientContext:
    """The context with a symbol for each gene the report coded only as an HGNC id (what was
    read is otherwise shown as read: a gain stays a gain)."""
    from dataclasses import replace

    alterations = tuple(_name(alt, catalogue) for alt in context.alterations)
    return replace(context, alterations=alterations)


def _name(alt: Alteration, catalogue: Catalogue) -> Alteration:
    if not ((alt.gene is None and alt.hgnc_id) or (alt.partner is None and alt.partner_hgnc_id)):
        return alt
    from dataclasses import replace

    from fhir_resist.engine.context import resolve_gene

    named = resolve_gene(alt, catalogue)
    label = named.label.replace(" amplification", " gain", 1) if named.cnv is not alt.cnv else named.label
    return replace(alt, gene=named.gene, partner=named.partner, label=label)


def _input_flaws(problems: Sequence[Message], tumour: str | None, catalogue: Catalogue) -> list[str]:
    """What of the command's input could not be used: each unreadable file (or part of one) and an
    override the catalogue does not know. Any of them makes the exit code 2, although the rest of
    the input was evaluated and printed."""
    flaws = [f"{problem.where} was not read" for problem in problems]
    if tumour is not None and tumour.upper() not in catalogue.tumours:
        flaws.append(f"--tumour {tumour!r} is not an OncoTree code in the catalogue")
    return flaws


def _write_refusal(assessment: Assessment, flaws: Sequence[str]) -> str | None:
    """Why the results must not go to the FHIR server, if they must not: results without a patient
    would be written about nobody, and results from part of the input could withdraw or contradict
    what the whole record supports."""
    if assessment.patient is None:
        return "the input names no Patient, so the results would have no subject"
    if flaws:
        return "the input was not read whole (" + "; ".join(flaws) + ")"
    return None


def _cancer_type_hint(assessment: Assessment, tumour: str | None) -> str | None:
    """The option that settles the cancer type, when the assessment says it was in doubt."""
    from fhir_resist.engine.assess import CANCER_TYPE

    if not any(m.where == CANCER_TYPE for m in assessment.messages):
        return None
    if tumour:  # a known code is used without a word; only an unknown one leads here
        return f"--tumour {tumour}: not an OncoTree code in the catalogue; the recorded Conditions were used"
    return "several cancer types are recorded; choose one with --tumour ONCOTREE"


def _patient_ref(patient: str | None) -> str | None:
    """The id a ``--patient`` names (``ID`` or ``Patient/ID``), refused unless it is a FHIR id."""
    if not patient:
        return None
    from fhir_resist.fhir.addresses import is_fhir_id

    pid = patient.removeprefix("Patient/")
    if not is_fhir_id(pid):
        raise InputError("not a FHIR id (letters, digits, '-' and '.', at most 64)", where="--patient")
    return pid
