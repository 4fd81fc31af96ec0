"""The argument parser: the global options, and each command group's own commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from fhir_resist.cli import catalogue, evaluate, outbox, profiles, serve


def build_parser() -> argparse.ArgumentParser:
    """``fhir-resist`` and its commands; a parsed command names the function that runs it (``run``)."""
    parser = argparse.ArgumentParser(
        prog="fhir-resist",
        description="Targeted-therapy resistance decision support on FHIR genomic reports.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument(
        "--catalogue",
        metavar="DIR",
        help="catalogue directory (default: $FHIR_RESIST_CATALOGUE or the bundled one)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate.add_evaluate(commands)
    serve.add_serve(commands)
    outbox.add_outbox(commands)
    evaluate.add_inspect(commands)
    profiles.add_profiles(commands)
    catalogue.add_catalogue(commands)
    return parser


class _Version(argparse.Action):
    """``--version``: the installed package's version, read only when asked for (reading the
    package metadata costs as much as the rest of ``--help``)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        from fhir_resist.version import VERSION

        sys.stdout.write(f"fhir-resist {VERSION}\n")
        parser.exit()
