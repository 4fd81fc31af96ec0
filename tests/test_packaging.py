"""The wheel holds exactly the source tree's package, catalogue/ and profiles/, built afresh each time.

Each test builds from a copy of the repository (what the build reads), as ``pip install .`` does:
a rule deleted from catalogue/ must not reach the next wheel through a copy an earlier build left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

BUILD_INPUTS = ("pyproject.toml", "README.md", ".gitignore", "src", "catalogue", "profiles")
DATA = "fhir_resist/data"
TEMPLATES = "catalogue/site/templates"  # the catalogue site's templates, package data


def _copy_of_repository(dest: Path) -> Path:
    dest.mkdir()
    for name in BUILD_INPUTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def _pip(*args: str) -> None:
    """pip, offline: only what is installed here (the build backend) and the files named."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--quiet", "--no-input", "--disable-pip-version-check", *args],
        check=True,
        capture_output=True,
    )


def _build_wheel(project: Path, out: Path) -> Path:
    """``pip wheel`` with the build backend installed here (no network), into ``out``."""
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(out), str(project))
    (wheel,) = out.glob("fhir_resist-*.whl")
    return wheel


def _members(wheel: Path, prefix: str) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {
            name.removeprefix(f"{prefix}/")
            for name in archive.namelist()
            if name.startswith(f"{prefix}/") and not name.endswith("/")
        }


def _files(root: Path, *, suffix: str = "") -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob(f"*{suffix}")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("wheel")
    return _build_wheel(_copy_of_repository(here / "repo"), here / "dist")


def test_the_wheel_ships_exactly_the_repositorys_catalogue_and_profiles(wheel: Path) -> None:
    assert _members(wheel, f"{DATA}/catalogue") == _files(ROOT / "catalogue")
    assert _members(wheel, f"{DATA}/profiles") == _files(ROOT / "profiles")
    package = {n for n in _members(wheel, "fhir_resist") if not n.startswith("data/")}
    templates = {f"{TEMPLATES}/{name}" for name in _files(ROOT / "src" / "fhir_resist" / TEMPLATES)}
    assert templates >= {f"{TEMPLATES}/rule.html.j2", f"{TEMPLATES}/index.html.j2"}
    pages = {f"page/templates/{n}" for n in _files(ROOT / "src" / "fhir_resist" / "page" / "templates")}
    assert pages  # the patient page's templates ship with the package
    assert package == _files(ROOT / "src" / "fhir_resist", suffix=".py") | {"py.typed"} | templates | pages


def test_a_deleted_rule_or_module_is_not_shipped_by_the_next_build(tmp_path: Path) -> None:
    project = _copy_of_repository(tmp_path / "repo")
    rule = project / "catalogue" / "rules" / "crc-antiegfr" / "zz-deleted-rule.yaml"
    module = project / "src" / "fhir_resist" / "zz_deleted_module.py"
    rule.write_text("id: zz-deleted-rule\n", encoding="utf-8")
    module.write_text('"""Deleted before the second build."""\n', encoding="utf-8")
    first = _build_wheel(project, tmp_path / "dist")
    assert "rules/crc-antiegfr/zz-deleted-rule.yaml" in _members(first, f"{DATA}/catalogue")
    assert "zz_deleted_module.py" in _members(first, "fhir_resist")

    rule.unlink()
    module.unlink()
    first.unlink()
    second = _build_wheel(project, tmp_path / "dist")
    assert "rules/crc-antiegfr/zz-deleted-rule.yaml" not in _members(second, f"{DATA}/catalogue")
    assert "zz_deleted_module.py" not in _members(second, "fhir_resist")
    assert _members(second, f"{DATA}/catalogue") == _files(ROOT / "catalogue")


def test_an_installed_wheel_validates_its_packaged_catalogue(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    _pip("install", "--no-deps", "--no-index", "--target", str(site), str(wheel))
    env = {k: v for k, v in os.environ.items() if k != "FHIR_RESIST_CATALOGUE"}
    env["PYTHONPATH"] = str(site)  # ahead of the development install on sys.path
    program = (
        "import sys; import fhir_resist; from fhir_resist.catalogue import default_path; "
        "from fhir_resist.cli import main; print(fhir_resist.__file__); print(default_path()); "
        "code = main(['catalogue', 'validate']); "
        "sys.exit(code or main(['catalogue', 'site', 'site-out']))"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    package, catalogue, verdict = ran.stdout.splitlines()[:3]
    assert Path(package).is_relative_to(site)
    assert Path(catalogue) == site / DATA / "catalogue"
    assert verdict.endswith("all valid")
    assert (tmp_path / "site-out" / "index.html").is_file()  # its templates were found
