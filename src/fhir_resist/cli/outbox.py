"""The ``outbox`` commands: results kept because the FHIR server failed or refused them, listed or
sent again; and how a delivery went, in words."""

from __future__ import annotations

import argparse
import json
import sys

from fhir_resist.cli.exit_codes import EXIT_OK, EXIT_SERVER
from fhir_resist.cli.options import add_server_options, server_settings_from
from fhir_resist.config import client_for
from fhir_resist.fhir.delivery import Delivery, retry
from fhir_resist.fhir.outbox import Outbox


def add_outbox(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        add_server_options(p)
    box_list.set_defaults(run=_list)
    box_retry.set_defaults(run=_retry)


def delivered(delivery: Delivery) -> str:
    """What became of a delivery: what was written, or where the result was kept and why."""
    if delivery.outcome == "delivered":
        withdrawn = f"; withdrew {len(delivery.withdrawn)} earlier issue(s)" if delivery.withdrawn else ""
        return (
            f"wrote {len(delivery.written)} resources to {delivery.server} "
            f"({delivery.created} created, {delivery.unchanged_or_updated} updated or unchanged){withdrawn}"
        )
    verb = "kept as pending" if delivery.outcome == "queued" else "rejected by the server; kept"
    return f"{delivery.error}\nfhir-resist: the result was {verb} in {delivery.outbox_path}"


def _list(args: argparse.Namespace) -> int:
    outbox = Outbox(server_settings_from(args).outbox)
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


def _retry(args: argparse.Namespace) -> int:
    settings = server_settings_from(args)
    results = retry(
        lambda server: client_for(settings, args.server or server),
        Outbox(settings.outbox),
        include_rejected=args.include_rejected,
    )
    if args.json:
        print(json.dumps([d.as_json() for _, d in results], indent=2))
    else:
        for _, delivery in results:
            print(f"{delivery.key}: {delivered(delivery)}")
        if not results:
            print("nothing to retry")
    return EXIT_OK if all(d.outcome == "delivered" for _, d in results) else EXIT_SERVER
