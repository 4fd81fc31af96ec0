"""The layers import only downwards: a change of adapter (FHIR, HTTP, command line) never reaches
the clinical core. The test reads every module's imports (including those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "fhir_resist"

# package (or module) -> what it must never import, directly or inside a function
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # the clinical core: pure, no I/O, knows no FHIR shapes, no HTTP, no command line
    "engine": (
        "fhir_resist.fhir",
        "fhir_resist.cdshooks",
        "fhir_resist.cli",
        "fhir_resist.render",
        "fhir_resist.api",
        "fhir_resist.config",
        "fhir_resist.files",
        "requests",
        "fastapi",
    ),
    "domain.py": ("fhir_resist.fhir", "fhir_resist.engine", "fhir_resist.catalogue", "fhir_resist.cdshooks"),
    "hgvs.py": ("fhir_resist.fhir", "fhir_resist.engine", "fhir_resist.catalogue", "fhir_resist.cdshooks"),
    "terminology.py": (
        "fhir_resist.fhir",
        "fhir_resist.engine",
        "fhir_resist.catalogue",
        "fhir_resist.cdshooks",
    ),
    "reading_rules.py": (
        "fhir_resist.fhir",
        "fhir_resist.engine",
        "fhir_resist.catalogue",
        "fhir_resist.cdshooks",
    ),
    "errors.py": ("fhir_resist.fhir", "fhir_resist.engine", "fhir_resist.catalogue", "fhir_resist.cdshooks"),
    # the knowledge: loads and checks YAML; only its case runner drives the engine
    "catalogue": ("fhir_resist.fhir", "fhir_resist.cdshooks", "fhir_resist.cli", "requests", "fastapi"),
    # the reader turns FHIR into domain facts and knows nothing of the catalogue or the engine
    "fhir/read": ("fhir_resist.catalogue", "fhir_resist.engine", "fhir_resist.cdshooks", "fhir_resist.cli"),
    # the FHIR adapters never reach up into the web service or the command line
    "fhir": ("fhir_resist.cdshooks", "fhir_resist.cli"),
    "cdshooks": ("fhir_resist.cli",),
    # the Bulk Data export client fetches files; it neither evaluates nor serves
    "bulk": (
        "fhir_resist.engine",
        "fhir_resist.catalogue",
        "fhir_resist.cdshooks",
        "fhir_resist.cli",
        "fastapi",
    ),
}
# The one sanctioned upward import: the catalogue's case runner runs each rule's cases through the engine.
ALLOWED = {("catalogue/cases.py", "fhir_resist.engine")}


def _imports(path: Path) -> set[str]:
    """Every module a file imports: ``from a.b import c`` imports ``a.b``, or ``a.b.c`` when ``c``
    is itself a module (``from fhir_resist import cli``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            package = SRC.parent / node.module.replace(".", "/")
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (package / alias.name).is_dir() or (package / f"{alias.name}.py").is_file()
            )
    return found


def _modules(layer: str) -> list[Path]:
    target = SRC / layer
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def _violations(layer: str) -> list[str]:
    out = []
    for path in _modules(layer):
        relative = path.relative_to(SRC).as_posix()
        for name in sorted(_imports(path)):
            for banned in FORBIDDEN[layer]:
                hit = name == banned or name.startswith(banned + ".")
                if hit and (relative, banned) not in ALLOWED:
                    out.append(f"{relative} imports {name}")
    return out


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(layer: str) -> None:
    assert _modules(layer), f"no module found for {layer}"
    assert _violations(layer) == []


def test_the_check_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "bad.py").write_text("def f():\n    from fhir_resist.fhir.read import read_context\n")
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    assert _violations("engine") == ["engine/bad.py imports fhir_resist.fhir.read"]
