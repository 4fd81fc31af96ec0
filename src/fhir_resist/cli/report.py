"""``fhir-resist report``: the patient page of one evaluation, as one self-contained HTML file.

It reads its input as ``evaluate`` does (files, or a patient on a FHIR server) and writes nothing
back."""

from __future__ import annotations

import argparse
import sys

from fhir_resist.cli.exit_codes import EXIT_INPUT, EXIT_OK
from fhir_resist.cli.options import add_server_options, server_settings_from
from fhir_resist.errors import InputError


def add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = commands.add_parser(
        "report",
        help="write the patient page (alerts, options, the resistance timeline) as one HTML file",
    )
    rep.add_argument("paths", nargs="*", metavar="PATH", help="JSON (Bundle or resource) or NDJSON files")
    rep.add_argument("--html", metavar="OUT.html", required=True, help="the page to write")
    rep.add_argument(
        "--patient", metavar="ID", help="the patient (with --server, or when the files hold several)"
    )
    rep.add_argument("--tumour", metavar="CODE", help="OncoTree code overriding the Condition")
    rep.add_argument("--at", metavar="DATETIME", help="evaluation time (ISO 8601; default now)")
    add_server_options(rep)
    rep.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fhir_resist.cli.evaluate import _at, _context, _input_flaws, _patient_ref, _read, _ready
    from fhir_resist.config import client_for
    from fhir_resist.engine.assess import assess
    from fhir_resist.fhir.state_files import atomic_write
    from fhir_resist.page.build import build_page
    from fhir_resist.page.html import render_html

    catalogue = _ready(args)
    settings = server_settings_from(args)
    at = _at(args.at)
    patient = _patient_ref(args.patient)
    if args.paths:
        resources, problems = _read(args.paths)
    elif args.server or settings.base:
        if not patient:
            raise InputError("reading from a FHIR server needs --patient ID", where="--patient")
        resources, problems = client_for(settings).patient_resources(patient), []
    else:
        raise InputError("give FHIR files, or --server URL --patient ID", where="report")
    source = ", ".join(args.paths) if args.paths else (args.server or settings.base or "FHIR server")
    context = _context(resources, patient, args.tumour, source, catalogue.reading, problems)
    page = build_page(assess(context, catalogue, at), context)
    out = Path(args.html)
    try:
        atomic_write(out, render_html(page).encode("utf-8"))  # 0600: it holds patient data
    except OSError as exc:
        raise InputError(f"cannot write the page: {exc.strerror or exc}", where=str(out)) from exc
    print(f"fhir-resist: patient page written to {out}", file=sys.stderr)
    return EXIT_INPUT if _input_flaws(problems, args.tumour, catalogue) else EXIT_OK
