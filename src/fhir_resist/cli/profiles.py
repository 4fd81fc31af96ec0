"""The ``profiles`` command: write the conformance resources (profiles, extensions, code system),
or load them onto a FHIR server (``--load URL``) so its validator knows them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from fhir_resist.cli.exit_codes import EXIT_OK, EXIT_SERVER
from fhir_resist.cli.options import catalogue_from

if TYPE_CHECKING:
    from pathlib import Path


def add_profiles(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prof = commands.add_parser("profiles", help="write the conformance resources (profiles/)")
    prof.add_argument("directory", nargs="?", default="profiles", help="where to write (default: profiles)")
    prof.add_argument(
        "--load",
        metavar="URL",
        help="instead of writing, PUT every conformance resource of DIRECTORY to the FHIR server at URL",
    )
    prof.set_defaults(run=_profiles)


def _profiles(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    if args.load:
        return _load(Path(args.directory), args.load)
    from fhir_resist.fhir.profiles import conformance_resources

    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    resources = conformance_resources(catalogue_from(args))
    for name, resource in resources.items():
        (target / name).write_text(json.dumps(resource, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(resources)} files to {target}")
    return EXIT_OK


def _load(directory: Path, url: str) -> int:
    from fhir_resist.fhir.client import FhirClient
    from fhir_resist.fhir.conformance_load import load_conformance, read_conformance

    resources = read_conformance(directory)
    results = load_conformance(FhirClient(url), resources)
    for result in results:
        print(f"{result.reference}: {result.outcome}" + (f" ({result.detail})" if result.detail else ""))
    refused = sum(1 for r in results if r.outcome == "refused")
    print(f"loaded {len(results) - refused} of {len(results)} conformance resources onto {url}")
    return EXIT_SERVER if refused else EXIT_OK
