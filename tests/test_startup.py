"""What starting fhir_resist imports: the command line and the package import no HTTP client,
no JWT or cryptography library, until a command needs them (structural, never timed)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from fhir_resist.cli import main
from fhir_resist.cli.parser import build_parser
from fhir_resist.fhir.write.bundle import ENV_VALIDATE
from tests.conftest import SCENARIOS

NETWORK = ("jwt", "requests", "cryptography")
PAGE = ("jinja2", "matplotlib", "numpy")


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
    assert loaded.isdisjoint(("filelock", "sqlite3", "uvicorn")), "the outbox and service load on use"
    assert loaded.isdisjoint(PAGE), "the patient page's libraries load when a page is drawn"


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
    assert loaded.isdisjoint((*NETWORK, "fhir", *PAGE)), sorted(loaded & {*NETWORK, "fhir", *PAGE})


def test_the_program_sets_its_garbage_collector_as_the_service_does() -> None:
    """``fhir-resist evaluate`` (``cli.run``) freezes what it loaded and collects less often."""
    path = SCENARIOS / "crc-kras-g12d-cetuximab.json"
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(gc.get_threshold(), gc.get_freeze_count() > 0, file=sys.stderr))\n"
        "from fhir_resist.cli import run\n"
        f"sys.argv = ['fhir-resist', 'evaluate', {str(path)!r}, '--at', '2026-01-01T00:00:00Z']\n"
        "run()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "(50000, 20, 20) True"


def test_an_embedded_command_line_leaves_the_collector_alone(capsys: pytest.CaptureFixture[str]) -> None:
    before = gc.get_threshold(), gc.get_freeze_count()
    path = SCENARIOS / "crc-kras-g12d-cetuximab.json"
    assert main(["evaluate", str(path), "--at", "2026-01-01T00:00:00Z", "--summary"]) == 0
    assert "KRAS" in capsys.readouterr().out
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_name_the_package_does_not_have_is_an_attribute_error() -> None:
    import fhir_resist
    from fhir_resist.fhir import write

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = fhir_resist.no_such_name
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = write.no_such_name


def test_help_imports_only_what_parsing_the_command_line_needs() -> None:
    """``--help`` is the cheapest thing the program does: what a command needs to run (its standard
    library modules included) is imported when it runs."""
    heavy = ("dataclasses", "pathlib", "datetime", "shutil", "bz2", "lzma", "inspect")
    loaded = _modules_after(
        "import contextlib, io, sys\n"
        "from fhir_resist.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['catalogue', '--help'])\n"
        "assert 'json' not in sys.modules, 'json was imported'\n"  # (the probe's report imports it)
    )
    assert loaded.isdisjoint(heavy), sorted(loaded & set(heavy))
    assert "fhir_resist" in loaded and "argparse" in loaded  # the probe did run the command line


@pytest.mark.parametrize(("columns", "expected"), [("60", 60), ("0", 80), ("wide", 80), (None, 80)])
def test_help_is_as_wide_as_columns_says(
    monkeypatch: pytest.MonkeyPatch, columns: str | None, expected: int
) -> None:
    """The width is read as ``shutil.get_terminal_size`` reads it (standard output here is no
    terminal: 80 unless ``COLUMNS`` says otherwise)."""
    import argparse
    import shutil

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(sys, "__stdout__", None)  # not a terminal (nor a file to ask)
    assert shutil.get_terminal_size().columns == expected
    parser = build_parser()
    plain = argparse.ArgumentParser(prog="x", formatter_class=argparse.HelpFormatter)._get_formatter()
    assert parser._get_formatter()._width == plain._width == expected - 2
    assert "usage: fhir-resist" in parser.format_help()


def test_the_population_libraries_load_only_when_reevaluate_runs() -> None:
    loaded = _modules_after(
        "import fhir_resist.cli\nfhir_resist.cli.build_parser().parse_args(['reevaluate', 'x'])"
    )
    assert loaded.isdisjoint(("dask", "distributed", "pyarrow", "fsspec")), sorted(
        loaded & {"dask", "distributed", "pyarrow", "fsspec"}
    )
