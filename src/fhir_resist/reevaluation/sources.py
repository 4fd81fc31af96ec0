"""The NDJSON files of a population: local paths, directories and any URL fsspec reads.

A Bulk Data export is a directory of ``<Type>.ndjson`` (or ``<Type>.<n>.ndjson``) files beside
its manifest; each file is read as a stream, one line at a time, so that a file of any size
costs one line's memory. A directory contributes its ``.ndjson`` / ``.jsonl`` files (the
manifest, a ``.json`` document, is not a resource file); compressed files (``.gz``, ``.bz2``,
...) are read through fsspec's compression by their suffix.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir_resist.errors import InputError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

_RESOURCE_FILES = (".ndjson", ".jsonl")
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst")


@dataclass(frozen=True, slots=True)
class Source:
    """One NDJSON file: the name it is reported by, its file system and its path there."""

    name: str
    fs: Any  # fsspec.AbstractFileSystem (not imported until a population is read)
    path: str
    size: int


def is_resource_file(path: str) -> bool:
    """Whether a file in a directory holds resources, one a line (by its name). An export's error
    files (``OperationOutcome``s, which ``fhir-resist export`` keeps in ``errors/``) say what the
    server could not export; they are not the population's data."""
    name = path.rsplit("/", 1)[-1].lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    return name.endswith(_RESOURCE_FILES) and not name.startswith("operationoutcome")


def sources(inputs: Sequence[str]) -> list[Source]:
    """Every NDJSON file the inputs name, in a stable order; raises ``InputError`` naming an input
    that does not exist, a directory that holds no NDJSON file, or a URL no file system reads."""
    if not inputs:
        raise InputError("give the NDJSON files or directories that hold the population", where="INPUT")
    found: list[Source] = []
    for given in inputs:
        found.extend(_expand(given))
    return found


def _expand(given: str) -> list[Source]:
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(given)
    except (ImportError, ValueError) as exc:
        raise InputError(f"cannot be read ({exc})", where=given) from None
    try:
        if fs.isdir(path):
            files = sorted(
                p
                for p in fs.find(path)
                if is_resource_file(p) and not p[len(path) :].lstrip("/").startswith("errors/")
            )
            if not files:
                raise InputError("the directory holds no .ndjson file", where=given)
            return [_source(fs, p, _name(given, path, p)) for p in files]
        if not fs.exists(path):
            raise InputError("no such file or directory", where=given)
        return [_source(fs, path, given)]
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", where=given) from None


def _name(given: str, directory: str, path: str) -> str:
    """A file of a directory named as the user named the directory (``export/Observation.ndjson``)."""
    return given.rstrip("/") + "/" + path[len(directory) :].lstrip("/")


def _source(fs: AbstractFileSystem, path: str, name: str) -> Source:
    return Source(name, fs, path, int(fs.size(path) or 0))


def lines(source: Source) -> Iterator[tuple[int, bytes]]:
    """The file's non-blank lines with their numbers (from 1), read as a stream."""
    with source.fs.open(source.path, "rb", compression="infer") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line.rstrip(b"\r\n")
