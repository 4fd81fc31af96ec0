"""The argument parser: the global options, and each command group's own commands."""

from __future__ import annotations

import argparse

from fhir_resist.cli import catalogue, evaluate, outbox, profiles, serve
from fhir_resist.version import VERSION


def build_parser() -> argparse.ArgumentParser:
    """``fhir-resist`` and its commands; a parsed command names the function that runs it (``run``)."""
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
    evaluate.add_evaluate(commands)
    serve.add_serve(commands)
    outbox.add_outbox(commands)
    evaluate.add_inspect(commands)
    profiles.add_profiles(commands)
    catalogue.add_catalogue(commands)
    return parser
