"""What starting fhir_resist imports: the command line and the package import no HTTP client,
no JWT or cryptography library, until a command needs them (structural, never timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fhir_resist.fhir.write.bundle import ENV_VALIDATE
from tests.conftest import SCENARIOS

NETWORK = ("jwt", "requests", "cryptography")


def _modules_after(code: str) -> set[str]:
    """The top-level modules imported by a fresh interpreter that ran ``code`` (as a user runs it:
    without the tests' request to validate every output)."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {k: v for k, v in os.environ.items() if k != ENV_VALIDATE}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_command_line_imports_no_network_library() -> None:
    loaded = _modules_after("import fhir_resist.cli\nfhir_resist.cli.build_parser().format_help()")
    assert loaded.isdisjoint(NETWORK), sorted(loaded & set(NETWORK))


def test_the_package_imports_neither_network_nor_models() -> None:
    loaded = _modules_after("import fhir_resist")
    assert loaded.isdisjoint((*NETWORK, "pydantic", "fhir", "yaml", "fastapi"))


def test_the_package_still_offers_its_api() -> None:
    loaded = _modules_after(
        "import fhir_resist\n"
        "assert callable(fhir_resist.evaluate) and callable(fhir_resist.load_catalogue)\n"
        "assert isinstance(fhir_resist.__version__, str)\n"
        "assert 'to_bundle' in dir(fhir_resist) and fhir_resist.Assessment.__name__ == 'Assessment'"
    )
    assert "pydantic" in loaded  # what was asked for was imported


def test_evaluating_a_file_imports_no_network_library_nor_fhir_resources() -> None:
    path = SCENARIOS / "crc-kras-g12d-cetuximab.json"
    loaded = _modules_after(
        "import contextlib, io\n"
        "from fhir_resist.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['evaluate', {str(path)!r}, '--at', '2026-01-01T00:00:00Z']) == 0\n"
    )
    assert loaded.isdisjoint((*NETWORK, "fhir")), sorted(loaded & {*NETWORK, "fhir"})
