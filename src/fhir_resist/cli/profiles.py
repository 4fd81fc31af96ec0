"""The ``profiles`` command: write the conformance resources (profiles, extensions, code system)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fhir_resist.cli.exit_codes import EXIT_OK
from fhir_resist.cli.options import catalogue_from


def add_profiles(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prof = commands.add_parser("profiles", help="write the conformance resources (profiles/)")
    prof.add_argument("directory", nargs="?", default="profiles", help="where to write (default: profiles)")
    prof.set_defaults(run=_profiles)


def _profiles(args: argparse.Namespace) -> int:
    from fhir_resist.fhir.profiles import conformance_resources

    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    resources = conformance_resources(catalogue_from(args))
    for name, resource in resources.items():
        (target / name).write_text(json.dumps(resource, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(resources)} files to {target}")
    return EXIT_OK
