"""The catalogue's validated files, built into a Catalogue, and kept compiled in the user's cache.

The cache holds the validated models as JSON (not code: nothing in it is executed) in a file named
for the catalogue directory and the digest of its files, the product's version and the code that
checks a catalogue (``sources.py``). Only a catalogue that passed every check is kept, so a hit
skips the YAML and the checks; the JSON is validated against the schema again when it is read, and
a file whose digest, key or contents do not match is ignored and replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from fhir_resist.catalogue import cache
from fhir_resist.catalogue.index import Catalogue
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
from fhir_resist.catalogue.sources import HGNC_TABLE, REFERENCE, Sources
from fhir_resist.version import VERSION

FORMAT = 1  # of the cached JSON; a change of it, as of the version, is a new key
_log = logging.getLogger(__name__)
_RULE = "rule:"  # a rule's line: rule:<path in the directory>


@dataclass(frozen=True)
class Files:
    """Every file of a catalogue as its schema model; rules by path in the directory."""

    meta: CatalogueMeta
    genes: GenesFile
    drugs: DrugsFile
    tumours: TumoursFile
    requirements: RequirementsFile
    exons: ExonsFile
    resistance_genes: ResistanceGenesFile
    reading: ReadingFile
    rules: tuple[tuple[str, Rule], ...]


_FIELDS = {  # file -> its field in Files
    "catalogue.yaml": "meta",
    "genes.yaml": "genes",
    "drugs.yaml": "drugs",
    "tumours.yaml": "tumours",
    "requirements.yaml": "requirements",
    "exons.yaml": "exons",
    "resistance-genes.yaml": "resistance_genes",
    "reading.yaml": "reading",
}


def build(root: Path, files: Files) -> Catalogue:
    """The indexed catalogue: genes with their exon maps attached, rules named by their file."""
    genes = GenesFile(
        genes={
            symbol: gene.model_copy(update={"exons": files.exons.exons[symbol].exons})
            if symbol in files.exons.exons
            else gene
            for symbol, gene in files.genes.genes.items()
        }
    )
    return Catalogue.build(
        files.meta,
        genes,
        files.drugs,
        files.tumours,
        [(display(root, name), rule) for name, rule in files.rules],
        files.requirements.requirements,
        files.resistance_genes.resistance_genes,
        hgnc_table=(root / REFERENCE / HGNC_TABLE).resolve(),
        reading=files.reading.rules(),
    )


def display(root: Path, name: str) -> str:
    """How problems and the catalogue name a file: from the catalogue directory's parent."""
    return str((root / name).relative_to(root.parent))


def key_of(sources: Sources) -> str:
    return sources.digest(f"{VERSION} compiled-{FORMAT}")


def read(key: str, root: Path) -> Catalogue | None:
    """The catalogue kept under ``key``, or None when there is none that can be used."""
    data = cache.read_file(_file_name(root, key))
    if data is None:
        return None
    try:
        return build(root, _files(_documents(data, key)))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        # pydantic's ValidationError, json's and UTF-8's decoding errors are ValueErrors
        _log.debug("compiled catalogue ignored (%s); building it again", type(exc).__name__)
        return None


def write(key: str, root: Path, files: Files) -> None:
    """Keep the validated files under ``key``: a header line, then one line per file, each its
    name and its model's JSON (JSON text holds no raw line break)."""
    lines = [
        f"{name}\t{getattr(files, field).model_dump_json(by_alias=True)}" for name, field in _FIELDS.items()
    ]
    lines += [f"{_RULE}{name}\t{rule.model_dump_json(by_alias=True)}" for name, rule in files.rules]
    body = "\n".join(lines).encode("utf-8")
    header = json.dumps({"format": FORMAT, "key": key, "sha256": hashlib.sha256(body).hexdigest()})
    cache.write_file(_file_name(root, key), header.encode("ascii") + b"\n" + body, _prefix(root))


def _prefix(root: Path) -> str:
    return f"catalogue-{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]}-"


def _file_name(root: Path, key: str) -> str:
    return f"{_prefix(root)}{key[:32]}.json"


def _documents(data: bytes, key: str) -> dict[str, bytes]:
    """The JSON of each file by name, once the header names this key and the body's digest."""
    header, _, body = data.partition(b"\n")
    about = json.loads(header)
    if about != {"format": FORMAT, "key": key, "sha256": hashlib.sha256(body).hexdigest()}:
        raise ValueError("another catalogue, format or a damaged file")
    documents = {}
    for line in body.split(b"\n"):
        name, tab, text = line.partition(b"\t")
        if not tab:
            raise ValueError("a line without a file name")
        documents[name.decode("utf-8")] = text
    return documents


def _files(documents: dict[str, bytes]) -> Files:
    return Files(
        meta=CatalogueMeta.model_validate_json(documents["catalogue.yaml"]),
        genes=GenesFile.model_validate_json(documents["genes.yaml"]),
        drugs=DrugsFile.model_validate_json(documents["drugs.yaml"]),
        tumours=TumoursFile.model_validate_json(documents["tumours.yaml"]),
        requirements=RequirementsFile.model_validate_json(documents["requirements.yaml"]),
        exons=ExonsFile.model_validate_json(documents["exons.yaml"]),
        resistance_genes=ResistanceGenesFile.model_validate_json(documents["resistance-genes.yaml"]),
        reading=ReadingFile.model_validate_json(documents["reading.yaml"]),
        rules=tuple(
            (name.removeprefix(_RULE), Rule.model_validate_json(text))
            for name, text in documents.items()
            if name.startswith(_RULE)
        ),
    )
