"""Reading input files: JSON, NDJSON, lists and directories; problems as messages naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_resist.errors import JsonProblem
from fhir_resist.files import parse_json, read_files, valid_unicode


def test_json_resource_list_ndjson_and_directory(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text(json.dumps({"resourceType": "Patient", "id": "a"}))
    (tmp_path / "list.json").write_text(json.dumps([{"resourceType": "Patient", "id": "b"}]))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bulk.ndjson").write_text('{"resourceType": "Patient", "id": "c"}\n\n[1]\n{oops\n')
    (tmp_path / "notes.txt").write_text("ignored")
    resources, problems = read_files([tmp_path])
    assert sorted(r["id"] for r in resources) == ["a", "b", "c"]
    wheres = sorted(p.where for p in problems)
    assert wheres == [f"{tmp_path / 'sub' / 'bulk.ndjson'}:3", f"{tmp_path / 'sub' / 'bulk.ndjson'}:4"]


def test_unreadable_and_wrong_top_level(tmp_path: Path) -> None:
    (tmp_path / "scalar.json").write_text("42")
    resources, problems = read_files([tmp_path / "scalar.json", tmp_path / "missing.json"])
    assert resources == []
    texts = [f"{p.where}: {p.text}" for p in problems]
    assert any("scalar.json" in t and "expected a FHIR resource" in t for t in texts)
    assert any("missing.json" in t and "cannot read" in t for t in texts)


def test_deeply_nested_json_is_refused_cleanly(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    resources, problems = read_files([tmp_path / "deep.json"])
    assert resources == []
    assert problems


# parse_json: what json reads, with lone surrogates repaired and problems located.


def test_parse_json_repairs_lone_surrogates_and_keeps_pairs() -> None:
    assert parse_json(b'{"a": "x\\ud800y", "b": "\\ud83d\\ude00"}') == {"a": "x\ufffdy", "b": "\U0001f600"}


def test_parse_json_names_the_position_of_a_syntax_error() -> None:
    with pytest.raises(JsonProblem) as caught:
        parse_json(b'{"a": 1,\n "b": }')
    assert "not valid JSON" in str(caught.value)
    assert caught.value.where == ":2:7"


def test_a_byte_order_mark_is_read_past_as_the_service_reads_it(tmp_path: Path) -> None:
    body = b'\xef\xbb\xbf{"resourceType": "Patient", "id": "bom"}'
    (tmp_path / "bom.json").write_bytes(body)
    (tmp_path / "bom.ndjson").write_bytes(body + b"\n")
    resources, problems = read_files([tmp_path / "bom.json", tmp_path / "bom.ndjson"])
    assert problems == []
    assert resources == [parse_json(body), parse_json(body)] == [{"resourceType": "Patient", "id": "bom"}] * 2


def test_valid_unicode_repairs_lone_surrogates_and_copies_nothing_without_them() -> None:
    clean = {"a": ["x", {"b": "é"}], "c": 1}
    assert valid_unicode(clean) is clean
    assert valid_unicode({"k\ud800": ["x\udfff", ("y",)]}) == {"k\ufffd": ["x\ufffd", ["y"]]}
