"""Options several commands share: the FHIR server with its outbox, and the catalogue to load."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from fhir_resist.fhir.write.strategies import WRITE_STRATEGIES

if TYPE_CHECKING:  # what a command uses is imported when it runs: ``--help`` imports neither
    from fhir_resist.catalogue import Catalogue
    from fhir_resist.config import ServerSettings


def add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", metavar="URL", help="FHIR server base URL (default $FHIR_RESIST_FHIR_BASE)")
    p.add_argument("--token", metavar="TOKEN", help="bearer token (default $FHIR_RESIST_FHIR_TOKEN)")
    p.add_argument("--outbox", metavar="DIR", help="outbox directory (default $FHIR_RESIST_OUTBOX)")
    p.add_argument(
        "--write-strategy",
        choices=WRITE_STRATEGIES,
        help="put: client-assigned ids (default); conditional: If-None-Exist (servers refusing client ids)",
    )


def server_settings_from(args: argparse.Namespace) -> ServerSettings:
    """The server settings: the options given, the environment for the others."""
    from fhir_resist.config import server_settings

    return server_settings(
        base=args.server, token=args.token, outbox=args.outbox, strategy=args.write_strategy
    )


def catalogue_from(args: argparse.Namespace) -> Catalogue:
    """The catalogue named by ``--catalogue``, else the default one."""
    from fhir_resist.catalogue import load_catalogue

    return load_catalogue(args.catalogue) if args.catalogue else load_catalogue()
