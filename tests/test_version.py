"""The version is written once, in pyproject.toml, and read from the installed metadata."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import pytest

import fhir_resist
from fhir_resist.cli import main
from fhir_resist.version import VERSION
from tests.conftest import ROOT


def test_the_version_is_the_installed_distributions() -> None:
    assert VERSION == version("fhir-resist") == fhir_resist.__version__


def test_pyproject_is_where_the_number_is_written() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == VERSION
    assert "version" not in project.get("dynamic", [])


def test_no_module_writes_the_number_again() -> None:
    literal = re.compile(r"""["']""" + re.escape(VERSION) + r"""["']""")
    sources = sorted((ROOT / "src" / "fhir_resist").rglob("*.py"))
    assert sources
    assert [p.name for p in sources if literal.search(p.read_text(encoding="utf-8"))] == []


def test_cli_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"fhir-resist {VERSION}"
