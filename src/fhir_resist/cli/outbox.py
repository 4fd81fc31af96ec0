"""The ``outbox`` commands: results waiting for the FHIR server (not yet sent, failed or refused),
listed or sent again; and how a delivery went, in words."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from fhir_resist.cli.exit_codes import EXIT_OK, EXIT_SERVER
from fhir_resist.cli.options import add_server_options, server_settings_from

if TYPE_CHECKING:  # delivery, the outbox and the FHIR client are imported when a command runs
    from fhir_resist.fhir.delivery import Delivery
    from fhir_resist.fhir.outbox import Outbox, OutboxItem


def add_outbox(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    box = commands.add_parser("outbox", help="results waiting for the FHIR server, or refused by it")
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
    if delivery.outcome == "superseded":
        return f"not written: {delivery.error}; the result is kept for the record in {delivery.outbox_path}"
    if delivery.outcome == "busy":
        return f"not sent now: {delivery.error}"
    if delivery.outcome == "unsaved":
        return f"{delivery.error}"
    verb = "kept as pending" if delivery.outcome == "queued" else "rejected by the server; kept"
    return f"{delivery.error}\nfhir-resist: the result was {verb} in {delivery.outbox_path}"


def keep_unsaved(delivery: Delivery, bundle: dict[str, Any], *, summary: bool, out: str | None) -> int:
    """The result was neither sent nor kept in the outbox: it must not be lost. The transaction
    Bundle is on standard output (or in ``--out``) already unless a summary was asked for; then
    it is printed now. Says on standard error where it is; exit 3."""
    import json

    if summary:
        print(json.dumps(bundle, indent=2))
    where = out if out and not summary else "standard output"
    print(
        f"fhir-resist: {delivered(delivery)}\n"
        f"fhir-resist: the result was NOT kept: the transaction Bundle is in {where}; keep it, and "
        "run this command again (with the same --at) once the server and the outbox are usable",
        file=sys.stderr,
    )
    return EXIT_SERVER


def _list(args: argparse.Namespace) -> int:
    import json

    from fhir_resist.fhir.outbox import Outbox

    outbox = Outbox(server_settings_from(args).outbox)
    items, problems = outbox.items()
    for problem in problems:
        print(f"fhir-resist: {problem.where}: {problem.text}", file=sys.stderr)
    rows = [_row(outbox, i) for i in items]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"the outbox ({outbox.directory}) is empty")
    for row in [] if args.json else rows:
        print(
            f"{row['state']:10} evaluated {row['evaluated'] or 'at an unknown time'}  {row['patient']}  "
            f"-> {row['server']}  (kept {row['created']}, {row['attempts']} attempts)"
        )
        print(f"           {row['error']}")
    return EXIT_OK


def _row(outbox: Outbox, item: OutboxItem) -> dict[str, Any]:
    state: str = item.state
    if state == "pending":
        with outbox.lock(item.lock_name, blocking=False) as free:
            state = "pending" if free else "sending"
    return {
        "key": item.key,
        "state": state,
        "server": item.server,
        "patient": item.scope.patient,
        "evaluated": item.evaluated or None,
        "created": item.created,
        "attempts": item.attempts,
        "error": item.error,
        "file": str(item.path),
    }


def _retry(args: argparse.Namespace) -> int:
    import json

    from fhir_resist.config import client_for
    from fhir_resist.fhir.delivery import retry
    from fhir_resist.fhir.outbox import Outbox

    """Exit 0 only when every waiting result reached the server or was superseded; 3 while any is
    still pending, rejected (also when left out without ``--include-rejected``) or unsaved.
    Items another process is sending now are that process's to report."""
    settings = server_settings_from(args)
    outbox = Outbox(settings.outbox)
    results = retry(
        lambda server: client_for(settings, args.server or server),
        outbox,
        include_rejected=args.include_rejected,
    )
    left = [] if args.include_rejected else [i for i in outbox.items()[0] if i.state == "rejected"]
    if args.json:
        print(json.dumps([d.as_json() for _, d in results], indent=2))
    else:
        for _, delivery in results:
            print(f"{delivery.key}: {delivered(delivery)}")
        if not results:
            print("nothing to retry")
    if left:
        print(
            f"fhir-resist: {len(left)} result(s) the server refused are still waiting; see `fhir-resist "
            "outbox list`, fix the cause, then run `fhir-resist outbox retry --include-rejected`",
            file=sys.stderr,
        )
    settled = all(d.outcome in ("delivered", "superseded", "busy") for _, d in results)
    return EXIT_OK if settled and not left else EXIT_SERVER
