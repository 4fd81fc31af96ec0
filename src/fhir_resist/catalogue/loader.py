"""Load the catalogue directory: YAML files into schema models, with file:line errors.

Each file is read and parsed once (with PyYAML's C loader where it is built). A catalogue that
passed every check is kept compiled (``catalogue/compiled.py``) under the digest of its files, so
the next load of the same files skips the YAML and the checks.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from fhir_resist.catalogue import compiled
from fhir_resist.catalogue.compiled import Files
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
from fhir_resist.catalogue.sources import HGNC_TABLE, REFERENCE, Sources, read_sources
from fhir_resist.catalogue.verified import load_verified, unverified
from fhir_resist.catalogue.yaml_files import parse, with_line
from fhir_resist.errors import CatalogueError

M = TypeVar("M", bound=BaseModel)

ENV_CATALOGUE = "FHIR_RESIST_CATALOGUE"


def default_path() -> Path:
    """The catalogue to use: $FHIR_RESIST_CATALOGUE, the packaged one, or the source tree's."""
    configured = os.environ.get(ENV_CATALOGUE)
    if configured:
        return Path(configured)
    packaged = Path(str(resources.files("fhir_resist"))) / "data" / "catalogue"
    if (packaged / "catalogue.yaml").is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "catalogue"


def load_catalogue(path: str | os.PathLike[str] | None = None, *, cache: bool = True) -> Catalogue:
    """Load, validate and lint a catalogue directory; raise CatalogueError listing every problem.

    With ``cache`` (the default), a catalogue compiled from the very same files by this version is
    read from the user's cache directory instead (``compiled.py``); one that cannot be used there
    is built again, and a catalogue with problems is never kept.
    """
    root = Path(path) if path is not None else default_path()
    if not (root / "catalogue.yaml").is_file():
        raise CatalogueError([f"{root}: not a catalogue directory (no catalogue.yaml)"])
    sources = read_sources(root)
    key = compiled.key_of(sources) if cache else None
    if key is not None:
        found = compiled.read(key, root)
        if found is not None:
            return found
    files = _files(sources)
    catalogue = _checked(sources, files)
    if key is not None:
        compiled.write(key, root, files)
    return catalogue


def _files(sources: Sources) -> Files:
    """Every file as its schema model; CatalogueError listing every file that is not one."""
    problems: list[str] = []
    meta = _load(sources, "catalogue.yaml", CatalogueMeta, problems)
    genes = _load(sources, "genes.yaml", GenesFile, problems)
    drugs = _load(sources, "drugs.yaml", DrugsFile, problems)
    tumours = _load(sources, "tumours.yaml", TumoursFile, problems)
    requirements = _load(sources, "requirements.yaml", RequirementsFile, problems)
    exons = _load(sources, "exons.yaml", ExonsFile, problems)
    resistance_genes = _load(sources, "resistance-genes.yaml", ResistanceGenesFile, problems)
    reading = _load(sources, "reading.yaml", ReadingFile, problems)
    rules: list[tuple[str, Rule]] = []
    for name in sources.rule_paths():
        rule = _load(sources, name, Rule, problems)
        if rule is not None:
            rules.append((name, rule))
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
        raise CatalogueError(problems or [f"{sources.root}: incomplete catalogue"])
    if problems:
        raise CatalogueError(problems)
    return Files(meta, genes, drugs, tumours, requirements, exons, resistance_genes, reading, tuple(rules))


def _checked(sources: Sources, files: Files) -> Catalogue:
    """The catalogue built from its files, once its exon maps, codes and rules pass every check."""
    root = sources.root
    problems = _exon_problems(files.genes, files.exons)
    if not sources.hgnc_table:
        problems.append(f"{root}/{REFERENCE}/{HGNC_TABLE}: HGNC's symbol table is missing")
    catalogue = compiled.build(root, files)
    verified = load_verified(root / REFERENCE)
    if verified is None:
        problems.append(f"{root}/{REFERENCE}: the verified code tables are missing; codes cannot be checked")
    else:
        problems.extend(unverified(files.genes, files.drugs, files.tumours, verified))
    problems.extend(with_line(problem, root) for problem in lint(catalogue))
    if problems:
        raise CatalogueError(problems)
    return catalogue


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


def _load(sources: Sources, name: str, model: type[M], problems: list[str]) -> M | None:
    file = sources.root / name
    if name not in sources.files:
        problems.append(f"{file}: cannot read ({sources.unreadable.get(name, 'missing')})")
        return None
    return parse(file, sources.files[name], model, problems)
