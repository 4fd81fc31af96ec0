"""The population's files: directories, URLs fsspec reads, compressed files, and what is missing."""

from __future__ import annotations

import gzip
from pathlib import Path

import fsspec
import pytest

from fhir_resist.errors import InputError
from fhir_resist.reevaluation.sources import lines, sources


def test_a_directory_gives_its_ndjson_files_named_as_the_directory_was(tmp_path: Path) -> None:
    (tmp_path / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"a"}\n\n', encoding="utf-8")
    (tmp_path / "Observation.2.ndjson").write_text("{}\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    found = sources([str(tmp_path)])
    assert [s.name for s in found] == [f"{tmp_path}/Observation.2.ndjson", f"{tmp_path}/Patient.ndjson"]
    assert list(lines(found[1])) == [(1, b'{"resourceType":"Patient","id":"a"}')]


def test_an_exports_error_files_are_not_read_as_the_population(tmp_path: Path) -> None:
    tmp_path = tmp_path / "errors" / "export"  # a folder named errors above the export is no matter
    tmp_path.mkdir(parents=True)
    (tmp_path / "errors").mkdir()
    (tmp_path / "errors" / "OperationOutcome-1.ndjson").write_text('{"resourceType": "OperationOutcome"}\n')
    (tmp_path / "OperationOutcome.ndjson").write_text('{"resourceType": "OperationOutcome"}\n')
    (tmp_path / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "p"}\n')
    (tmp_path / "export.json").write_text("{}")
    assert [s.name for s in sources([str(tmp_path)])] == [f"{tmp_path}/Patient.ndjson"]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as caught:
        sources([str(tmp_path / "absent.ndjson")])
    assert caught.value.where == str(tmp_path / "absent.ndjson")


def test_a_directory_without_ndjson_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match=r"no \.ndjson file"):
        sources([str(tmp_path)])


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(InputError, match="cannot be read"):
        sources(["nosuchprotocol://bucket/export"])


def test_no_input_is_refused() -> None:
    with pytest.raises(InputError, match="give the NDJSON"):
        sources([])


def test_an_fsspec_url_and_a_compressed_file_are_read_as_streams() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/export/Patient.ndjson", b'{"resourceType":"Patient","id":"m1"}\r\n')
    fs.pipe("/export/Observation.ndjson.gz", gzip.compress(b'{"resourceType":"Observation","id":"o"}\n'))
    found = sources(["memory://export"])
    assert [s.name for s in found] == [
        "memory://export/Observation.ndjson.gz",
        "memory://export/Patient.ndjson",
    ]
    assert [list(lines(s)) for s in found] == [
        [(1, b'{"resourceType":"Observation","id":"o"}')],
        [(1, b'{"resourceType":"Patient","id":"m1"}')],
    ]
    fs.rm("/export", recursive=True)
