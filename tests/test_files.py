"""Reading input files: JSON, NDJSON, lists and directories; problems as messages naming the file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_resist import Catalogue, evaluate, files, to_bundle
from fhir_resist.errors import JsonProblem
from fhir_resist.files import parse_json, read_files, valid_unicode
from tests.conftest import SCENARIOS, load_json


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


# parse_json reads with orjson where orjson reads as json does, and with json everywhere else:
# the result (types, float signs, key order) and every refusal are json's.

TRICKY = [
    "NaN",
    "-Infinity",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "1" * 19,
    "-" + "9" * 19,
    "18446744073709551616",
    "1e400",
    "-0",
    "01",
    ".5",
    "1.",
    "\ufeff",
    "\x00",
    "\x0c",
    "\u2028",
    "\\u0000",
    ",",
    "]",
    "}",
    '"',
    "[" * 1030,
]


def _typed(value: Any) -> Any:
    """The value with every type and float spelt out (1 and 1.0, 0.0 and -0.0, NaN differ)."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


def _outcome(read: Callable[[str | bytes], Any], text: str | bytes) -> tuple[Any, ...]:
    try:
        return ("read", _typed(read(text)))
    except JsonProblem as problem:
        return ("refused", str(problem), problem.where)


json_documents = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(
    json_documents,
    st.booleans(),
    st.booleans(),
    st.lists(st.tuples(st.integers(min_value=0), st.sampled_from(TRICKY)), max_size=2),
)
def test_parse_json_reads_and_refuses_exactly_as_json_does(
    document: Any, ascii_only: bool, as_bytes: bool, insertions: list[tuple[int, str]]
) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    for position, piece in insertions:
        at = position % (len(text) + 1)
        text = text[:at] + piece + text[at:]
    given_text: str | bytes = text.encode("utf-8", "surrogatepass") if as_bytes else text
    assert _outcome(parse_json, given_text) == _outcome(files._standard, given_text)


@pytest.mark.parametrize(
    "text",
    [
        b'{"n": 12345678901234567890123}',
        b'{"n": -9223372036854775809}',
        b'{"n": 18446744073709551616}',
        b'{"id": "1234567890123456789"}',  # a digit run in a string: json reads it too, the same
        b'{"x": NaN, "y": -Infinity}',
        b'{"x": 1e400}',
        b'{"s": "x\\ud800y"}',
        b'{"s": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8: json reads it, orjson does not
        b'\xef\xbb\xbf{"a": 1}',
        '{"a": 1}'.encode("utf-16"),
        b"[" * 1025 + b"]" * 1025,
        '{"s": "\ud800"}',
    ],
)
def test_what_orjson_would_read_otherwise_or_not_at_all_is_read_by_json(text: str | bytes) -> None:
    assert files._orjson(text) is files._REFUSED
    assert _outcome(parse_json, text) == _outcome(files._standard, text)


def test_ordinary_json_is_read_by_orjson_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_called(text: str | bytes) -> Any:
        raise AssertionError("read by json")

    monkeypatch.setattr(files, "_standard", not_called)
    text = '{"a": [1, -0.0, 2.5e-8, 123456789012345678, "é\\ud83d\\ude00"], "a": null, "b": {}}'
    expected: dict[str, Any] = {"a": None, "b": {}}
    assert parse_json(text) == parse_json(text.encode()) == expected
    assert list(parse_json(b'{"b": 1, "a": 2, "b": 3}')) == ["b", "a"]
    assert _typed(parse_json(b"[-0.0, 1.0, 1]")) == _typed([-0.0, 1.0, 1])


# indented_json writes what json.dumps(indent=2) writes, character for character.

json_output = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(["\x00\x1f\x7f", "é€", "\U0001f600", "\u2028\ufeff", '"\\/']),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=16,
)


@settings(max_examples=400, deadline=None)
@given(json_output)
def test_indented_json_is_json_dumps_indent_2(value: Any) -> None:
    assert files.indented_json(value) == json.dumps(value, indent=2)


@pytest.mark.parametrize(
    "scenario", sorted(p.name for p in SCENARIOS.glob("*.json") if ".expect." not in p.name)
)
def test_every_scenarios_bundle_is_written_as_json_dumps_writes_it(
    catalogue: Catalogue, scenario: str
) -> None:
    bundle = to_bundle(evaluate([load_json(SCENARIOS / scenario)], catalogue=catalogue))
    assert files.indented_json(bundle) == json.dumps(bundle, indent=2)


def test_what_orjson_writes_otherwise_or_not_at_all_is_written_by_json() -> None:
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    cycle: list[Any] = []
    cycle.append(cycle)
    for value in ({"vaf": 1e-05}, {"big": 2**64}, {"s": "\ud800"}, deep, {1: "a"}):
        assert files.indented_json(value) == json.dumps(value, indent=2)
    with pytest.raises(ValueError, match="Circular reference"):
        files.indented_json(cycle)


def test_plain_json_is_written_by_orjson_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"a": ["é\U0001f600\x7f", 1, True, None, ("t",)], "b": {}}
    expected = json.dumps(value, indent=2)
    monkeypatch.setattr(json, "dumps", None)
    assert files.indented_json(value) == expected


def test_files_input_bytes_counts_what_read_files_reads(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.ndjson").write_text("{}\n{}\n")
    (tmp_path / "notes.txt").write_text("not read")
    assert files.input_bytes([tmp_path, tmp_path / "missing.json"]) == 2 + 6


@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_digit_run_across_the_parts_searched_is_found(
    monkeypatch: pytest.MonkeyPatch, as_bytes: bool
) -> None:
    monkeypatch.setattr(files, "_CHUNK", 8)
    for at in range(0, 12):
        text = " " * at + "[-9223372036854775809]"
        given_text: str | bytes = text.encode() if as_bytes else text
        assert files._orjson(given_text) is files._REFUSED
        assert parse_json(given_text) == [-9223372036854775809]
    assert parse_json(" " * 9 + '["é", 922337203685477580]') == ["é", 922337203685477580]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (b'{"resourceType": "Observation"}', False),
        (b'{"div": "a \\"quoted\\" word\\n"}', False),  # backslashes, none of them \u
        (b'{"resource\\u0054ype": "Observation"}', True),
        (b'{"s": "\\\\u0041"}', True),  # an escaped backslash before u: still looked at closely
        (b"", False),
    ],
)
def test_unicode_escaped_finds_every_backslash_u_and_only_those(raw: bytes, escaped: bool) -> None:
    assert files.unicode_escaped(raw) is escaped
