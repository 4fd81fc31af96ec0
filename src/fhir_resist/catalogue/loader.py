"""Load the catalogue directory: YAML files into schema models, with file:line errors."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from fhir_resist.catalogue.index import Catalogue
from fhir_resist.catalogue.lint import lint
from fhir_resist.catalogue.schema import (
    CatalogueMeta,
    DrugsFile,
    ExonsFile,
    GenesFile,
    RequirementsFile,
    ResistanceGenesFile,
    Rule,
    TumoursFile,
)
from fhir_resist.catalogue.schema.reading import ReadingFile
from fhir_resist.catalogue.verified import load_verified, unverified
from fhir_resist.errors import CatalogueError

M = TypeVar("M", bound=BaseModel)

ENV_CATALOGUE = "FHIR_RESIST_CATALOGUE"
HGNC_TABLE = "hgnc.tsv"


def default_path() -> Path:
    """The catalogue to use: $FHIR_RESIST_CATALOGUE, the packaged one, or the source tree's."""
    configured = os.environ.get(ENV_CATALOGUE)
    if configured:
        return Path(configured)
    packaged = Path(str(resources.files("fhir_resist"))) / "data" / "catalogue"
    if (packaged / "catalogue.yaml").is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "catalogue"


def load_catalogue(path: str | os.PathLike[str] | None = None) -> Catalogue:
    """Load, validate and lint a catalogue directory; raise CatalogueError listing every problem."""
    root = Path(path) if path is not None else default_path()
    if not (root / "catalogue.yaml").is_file():
        raise CatalogueError([f"{root}: not a catalogue directory (no catalogue.yaml)"])
    problems: list[str] = []
    meta = _load(root / "catalogue.yaml", CatalogueMeta, problems)
    genes = _load(root / "genes.yaml", GenesFile, problems)
    drugs = _load(root / "drugs.yaml", DrugsFile, problems)
    tumours = _load(root / "tumours.yaml", TumoursFile, problems)
    requirements = _load(root / "requirements.yaml", RequirementsFile, problems)
    exons = _load(root / "exons.yaml", ExonsFile, problems)
    resistance_genes = _load(root / "resistance-genes.yaml", ResistanceGenesFile, problems)
    reading = _load(root / "reading.yaml", ReadingFile, problems)
    rules: list[tuple[str, Rule]] = []
    for file in sorted((root / "rules").rglob("*.yaml")):
        rule = _load(file, Rule, problems)
        if rule is not None:
            rules.append((_display(file, root), rule))
    if (
        meta is None
        or genes is None
        or drugs is None
        or tumours is None
        or requirements is None
        or exons is None
        or resistance_genes is None
        or reading is None
    ):
        raise CatalogueError(problems or [f"{root}: incomplete catalogue"])
    if problems:
        raise CatalogueError(problems)
    problems += _exon_problems(genes, exons)
    genes = _with_exons(genes, exons)
    hgnc_table = root / "reference" / HGNC_TABLE
    if not hgnc_table.is_file():
        problems.append(f"{root}/reference/{HGNC_TABLE}: HGNC's symbol table is missing")
    catalogue = Catalogue.build(
        meta,
        genes,
        drugs,
        tumours,
        rules,
        requirements.requirements,
        resistance_genes.resistance_genes,
        hgnc_table=hgnc_table.resolve(),
        reading=reading.rules(),
    )
    verified = load_verified(root / "reference")
    if verified is None:
        problems.append(f"{root}/reference: the verified code tables are missing; codes cannot be checked")
    else:
        problems.extend(unverified(genes, drugs, tumours, verified))
    problems.extend(_with_line(problem, root) for problem in lint(catalogue))
    if problems:
        raise CatalogueError(problems)
    return catalogue


def _with_exons(genes: GenesFile, exons: ExonsFile) -> GenesFile:
    """The genes with their exon maps (exons.yaml) attached."""
    return GenesFile(
        genes={
            symbol: gene.model_copy(update={"exons": exons.exons[symbol].exons})
            if symbol in exons.exons
            else gene
            for symbol, gene in genes.genes.items()
        }
    )


def _exon_problems(genes: GenesFile, exons: ExonsFile) -> list[str]:
    problems = []
    for symbol, exon_map in exons.exons.items():
        gene = genes.genes.get(symbol)
        if gene is None:
            problems.append(f"exons.yaml: {symbol}: not a gene in genes.yaml")
        elif gene.mane_select is None or gene.mane_select.refseq != exon_map.transcript:
            problems.append(
                f"exons.yaml: {symbol}: transcript {exon_map.transcript} is not the gene's "
                "MANE Select transcript in genes.yaml"
            )
    return problems


def _display(file: Path, root: Path) -> str:
    try:
        return str(file.relative_to(root.parent))
    except ValueError:
        return str(file)


def _load(file: Path, model: type[M], problems: list[str]) -> M | None:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{file}: cannot read ({exc.strerror})")
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problems.append(f"{file}{line}: not valid YAML ({getattr(exc, 'problem', exc)})")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            path = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{file}:{_line_of(node, loc)}: {path}: {error['msg']}{_hint(error)}")
        return None


_LINT = re.compile(r"^(?P<file>[^:]+\.yaml): (?P<rule>[a-z0-9-]+): (?P<key>[a-z_]+)(?:\[(?P<index>\d+)\])?: ")


def _with_line(problem: str, root: Path) -> str:
    """``file: rule: key[i]: message`` becomes ``file:line: rule: key[i]: message``."""
    match = _LINT.match(problem)
    if match is None:
        return problem
    path = root.parent / match["file"]
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return problem
    loc: tuple[str | int, ...] = (
        (match["key"],) if match["index"] is None else (match["key"], int(match["index"]))
    )
    return f"{match['file']}:{_line_of(node, loc)}: {problem[len(match['file']) + 2 :]}"


_HINTS = {
    "extra_forbidden": " (unknown key: check its spelling against catalogue/README.md)",
    "missing": " (required key missing: see catalogue/README.md)",
}


def _hint(error: Any) -> str:
    return _HINTS.get(str(error.get("type")), "")


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (closest known)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                found: yaml.Node = value
                return found
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item
    return None
