"""The argument parser: the global options, and each command group's own commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, cast

from fhir_resist.cli import catalogue, evaluate, outbox, profiles, report, serve
from fhir_resist.cli import export as bulk_export
from fhir_resist.cli import reevaluate as reevaluation


def build_parser() -> argparse.ArgumentParser:
    """``fhir-resist`` and its commands; a parsed command names the function that runs it (``run``)."""
    parser = _Parser(
        prog="fhir-resist",
        description="Targeted-therapy resistance decision support on FHIR genomic reports.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument(
        "--catalogue",
        metavar="DIR",
        help="catalogue directory (default: $FHIR_RESIST_CATALOGUE or the bundled one)",
    )
    # each command's parser is a _Parser (the class of its parent); the command modules need no more
    # than an ArgumentParser of it
    subparsers = parser.add_subparsers(dest="command", required=True)
    commands = cast("argparse._SubParsersAction[argparse.ArgumentParser]", subparsers)
    evaluate.add_evaluate(commands)
    serve.add_serve(commands)
    outbox.add_outbox(commands)
    evaluate.add_inspect(commands)
    report.add_report(commands)
    profiles.add_profiles(commands)
    catalogue.add_catalogue(commands)
    bulk_export.add_export(commands)
    reevaluation.add_reevaluate(commands)
    return parser


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, with the terminal's width read as ``shutil.get_terminal_size``
    reads it but without importing ``shutil`` (and with it ``bz2`` and ``lzma``): a quarter of
    what the command line imports beyond the interpreter before it prints ``--help``."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


def _columns() -> int:
    """``$COLUMNS`` when set, else the width of the terminal standard output is, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    """An argument parser formatting with ``_Formatter``; its commands' parsers are ``_Parser`` too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


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
