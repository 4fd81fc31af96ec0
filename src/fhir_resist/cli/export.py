"""``export``: a FHIR Bulk Data export (``$export``) of what fhir-resist reads, into a directory.

Standard error has the progress: a line updated in place on a terminal, a log line a step
otherwise. Standard output has the summary when done. Exit 0 when every file is on disk and the
error files (if any) report no missing resources; 3 when the server failed, refused or reports
resources it could not export (the files that came are kept, and the record says what they are);
2 for bad options. Interrupted, it deletes the job when still waiting for it, and keeps it while
downloading (running the command again continues the downloads).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from fhir_resist.cli.exit_codes import EXIT_OK, EXIT_SERVER

if TYPE_CHECKING:
    from fhir_resist.bulk.job import Exported
    from fhir_resist.bulk.kickoff import ExportRequest, Level


def add_export(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ex = commands.add_parser(
        "export", help="FHIR Bulk Data export ($export) of the resources fhir-resist reads, to NDJSON files"
    )
    ex.add_argument("--server", metavar="URL", help="FHIR server base URL (default $FHIR_RESIST_FHIR_BASE)")
    ex.add_argument("--token", metavar="TOKEN", help="bearer token (default $FHIR_RESIST_FHIR_TOKEN)")
    level = ex.add_mutually_exclusive_group()
    level.add_argument("--group", metavar="ID", help="export the Group's patients (Group/ID/$export)")
    level.add_argument("--patients", action="store_true", help="export every patient (Patient/$export)")
    ex.add_argument(
        "--type",
        action="append",
        metavar="TYPE",
        help="a resource type to export, repeatable or comma-separated (default: every type read)",
    )
    ex.add_argument("--type-filter", action="append", metavar="TYPE?QUERY", help="_typeFilter, repeatable")
    ex.add_argument("--since", metavar="INSTANT", help="only resources changed since (FHIR instant)")
    ex.add_argument(
        "--out", metavar="DIR", required=True, help="directory for the NDJSON files and export.json"
    )
    ex.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        default=6 * 3600.0,
        help="longest wait for the export (6 h)",
    )
    ex.add_argument(
        "--max-poll-interval",
        type=float,
        metavar="SECONDS",
        default=120.0,
        help="longest pause between status checks, whatever Retry-After asks (120)",
    )
    ex.set_defaults(run=_export)


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fhir_resist.bulk.job import Pacing, run_export
    from fhir_resist.bulk.polling import PollPolicy
    from fhir_resist.config import client_for, server_settings
    from fhir_resist.errors import InputError

    for option, value in (("--timeout", args.timeout), ("--max-poll-interval", args.max_poll_interval)):
        if not value > 0:
            raise InputError("must be a positive number of seconds", where=option)
    request = _request(args)
    client = client_for(server_settings(base=args.server, token=args.token))
    policy = PollPolicy(max_wait=args.max_poll_interval, timeout=args.timeout)
    line = _Line(sys.stderr)
    try:
        exported = run_export(client, request, Path(args.out), pacing=Pacing(policy), progress=line.show)
    except KeyboardInterrupt:
        line.done()
        print(
            f"fhir-resist: export interrupted; see {Path(args.out) / 'export.json'}: run the command again "
            "to continue the downloads, or to start anew if the job was still running",
            file=sys.stderr,
        )
        return EXIT_SERVER
    finally:
        line.done()
    return _report(exported)


def _request(args: argparse.Namespace) -> ExportRequest:
    from fhir_resist.bulk.kickoff import export_request

    types = tuple(t.strip() for item in args.type or [] for t in item.split(",") if t.strip())
    level: Level = "group" if args.group is not None else "patient" if args.patients else "system"
    return export_request(
        level,
        group=args.group,
        types=types,
        type_filters=tuple(args.type_filter or ()),
        since=args.since,
    )


def _report(exported: Exported) -> int:
    record = exported.record
    counts = record.resources_by_type()
    files = sum(1 for f in record.files if f.kind == "output")
    verb = "was complete already" if exported.already_complete else "done"
    print(
        f"export {verb}: {sum(counts.values())} resources in {files} files in {exported.directory} "
        f"(transactionTime {record.transaction_time}; {record.job})"
    )
    for rtype, count in sorted(counts.items()):
        print(f"  {rtype}: {count}")
    errors = exported.errors
    if errors.issues or errors.unreadable:
        shown = ", ".join(f"{n} {s}" for s, n in sorted(errors.severities.items()))
        unreadable = f", {errors.unreadable} unreadable lines" if errors.unreadable else ""
        print(f"fhir-resist: the server's error files report {shown}{unreadable}:", file=sys.stderr)
        for message in errors.messages:
            print(f"  {message}", file=sys.stderr)
    if errors.missing_resources:
        print(
            "fhir-resist: the export is incomplete: the server could not export some resources",
            file=sys.stderr,
        )
        return EXIT_SERVER
    return EXIT_OK


class _Line:
    """Progress on standard error: one line rewritten in place on a terminal, a line a step otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.terminal = stream.isatty()
        self.open = False

    def show(self, text: str) -> None:
        if self.terminal:
            self.stream.write(f"\r\x1b[Kfhir-resist: {text}")
            self.open = True
        else:
            self.stream.write(f"fhir-resist: {text}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False
