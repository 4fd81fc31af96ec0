"""The ``serve`` command: the CDS Hooks service and the report endpoint, under uvicorn."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from fhir_resist.cli.exit_codes import EXIT_OK
from fhir_resist.cli.options import catalogue_from
from fhir_resist.errors import InputError

if TYPE_CHECKING:
    from fhir_resist.cdshooks.app import ServiceSettings


def add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _serve(args: argparse.Namespace) -> int:
    import logging
    from dataclasses import replace
    from pathlib import Path

    import uvicorn

    from fhir_resist.cdshooks.app import ServiceSettings, create_app
    from fhir_resist.cdshooks.tuning import tune_gc

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ServiceSettings.from_env()
    except (ValueError, OSError) as exc:
        raise InputError(str(exc), where="service configuration") from exc
    _check_start(settings)
    catalogue = catalogue_from(args)  # checked here, so a broken catalogue stops the start with its problems
    processes = _evaluator_processes(args, settings)
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
            **_server_limits(args.workers),
        )
    else:
        app = create_app(settings, catalogue=catalogue)
        tune_gc()
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", **_server_limits(1))
    return EXIT_OK


def _server_limits(workers: int) -> dict[str, Any]:
    """uvicorn's options for the limits before the app: request-head bytes and time, connections
    at once, keep-alive (``FHIR_RESIST_MAX_HEAD`` ... ; refused here when malformed)."""
    from fhir_resist.cdshooks.limits import Limits
    from fhir_resist.cdshooks.server import uvicorn_options

    return uvicorn_options(Limits.from_env(), workers=workers)


def _check_start(settings: ServiceSettings) -> None:
    """Refuses to start on settings the service cannot run with (an ``InputError``, exit 2); warns
    of a configuration that refuses every call or every fetch; opens the state shared by the HTTP
    processes, its counters from zero."""
    import sqlite3

    from fhir_resist.cdshooks.settings import check
    from fhir_resist.cdshooks.shared_state import SharedState
    from fhir_resist.fhir.outbox import Outbox

    check(settings)
    if settings.auth == "off":
        print(
            "fhir-resist: FHIR_RESIST_CDS_AUTH=off: callers are NOT authenticated (local development only)",
            file=sys.stderr,
        )
        if settings.trust.servers_without_auth() is None:
            print(
                "fhir-resist: hook calls may fetch from any fhirServer they name "
                "(FHIR_RESIST_CDS_FHIR_SERVERS limits them)",
                file=sys.stderr,
            )
    elif not settings.trust.issuers:
        print(
            "fhir-resist: no trusted CDS clients (FHIR_RESIST_CDS_ISSUERS or FHIR_RESIST_CDS_CLIENTS): "
            "every hook call will be refused",
            file=sys.stderr,
        )
    for client in settings.trust.clients.values():
        if not client.fhir_servers:
            print(
                f"fhir-resist: no FHIR servers configured for {client.issuer}: its hook calls must bring "
                "their data as prefetch (412 otherwise)",
                file=sys.stderr,
            )
    if settings.server.base:  # a posted report's result the server fails must have somewhere to wait
        Outbox(settings.server.outbox).ensure_writable()
    state = SharedState(settings.state_dir)
    try:
        state.reset_counters()
    except (OSError, sqlite3.Error) as exc:
        raise InputError(f"cannot be used ({exc})", where=f"state directory {settings.state_dir}") from exc
    finally:
        state.close()


def _evaluator_processes(args: argparse.Namespace, settings: ServiceSettings) -> int:
    """``--processes``, else the configured number, else none beside several HTTP workers, else one
    per usable core."""
    from fhir_resist.cdshooks.evaluators import usable_cores

    processes: int | None = args.processes
    if processes is None:  # one evaluator per core, unless configured or several HTTP workers share them
        configured = bool(os.environ.get("FHIR_RESIST_PROCESSES"))
        processes = settings.processes if configured else 0 if args.workers > 1 else usable_cores()
    if processes < 0:
        raise InputError("must be 0 or more", where="--processes")
    return processes
