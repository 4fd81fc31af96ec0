"""The ``fhir-resist`` command line. The only place that maps errors to exit codes.

Exit codes: 0 done; 1 internal error (a defect: one line, no traceback unless FHIR_RESIST_DEBUG
is set); 2 bad input or usage (one clear line naming file and element); 3 the FHIR server failed
(what was computed is in the outbox, or was not computed because the record could not be read).

The commands live by group: ``evaluate`` (evaluate and inspect), ``serve``, ``outbox``,
``catalogue`` and ``profiles``; ``parser`` puts them together and ``options`` holds the options
several of them share.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from fhir_resist.cli.exit_codes import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_SERVER
from fhir_resist.cli.parser import build_parser
from fhir_resist.errors import CatalogueError, InputError, ServerError


def run() -> NoReturn:
    """The ``fhir-resist`` program: the command line in a process of its own, whose garbage
    collector the commands that evaluate may set as the service's (``cdshooks/tuning.py``)."""
    sys.exit(main(own_process=True))


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    """Run one command; its exit code. ``own_process``: the process runs nothing else, so the
    command may tune it (a caller that embeds the command line keeps its own settings)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.own_process = own_process
    try:
        result: int = args.run(args)
    except InputError as exc:
        print(f"fhir-resist: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except ServerError as exc:
        print(f"fhir-resist: {exc}", file=sys.stderr)
        return EXIT_SERVER
    except CatalogueError as exc:
        print("fhir-resist: the catalogue is invalid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a defect in fhir_resist, never the user's input
        if os.environ.get("FHIR_RESIST_DEBUG"):
            raise
        print(
            f"fhir-resist: internal error ({type(exc).__name__}: {exc}); please report it. "
            "Set FHIR_RESIST_DEBUG=1 to see where it happened.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return result
