"""No input shape crashes the reader or the engine: FHIR-shaped noise always yields an answer.

What is asserted of every input: no message reports a reader bug (an internal error); the only
exception is a refusal (``InputError``), anything else fails the test as it propagates; and every
refusal and message names where it is, as a position in the input
(``input[0].entry[3].resource``), a resource (``Observation/v-kras``, with the element when there
is one: ``Observation/v-kras.component:gene-studied``), or a resource type for what concerns all
resources of it (``Condition.code``: which cancer type to use).
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.domain import Message
from fhir_resist.engine.model import Assessment
from fhir_resist.errors import InputError, JsonProblem
from fhir_resist.fhir.read import INTERNAL_ERROR, read_context
from fhir_resist.files import parse_json, read_files
from tests.conftest import SCENARIOS, load_json

SEED = load_json(SCENARIOS / "crc-kras-g12d-cetuximab.json")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(
        ["69548-6", "LA9633-4", "LA9634-2", "48005-3", "p.G12D", "HGNC:6407", "Patient/pat-1", "2026-01-01"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "resourceType",
        "id",
        "status",
        "code",
        "valueCodeableConcept",
        "component",
        "subject",
        "specimen",
        "effectiveDateTime",
        "coding",
        "system",
        "display",
        "valueQuantity",
        "value",
        "entry",
        "resource",
        "fullUrl",
        "medicationCodeableConcept",
        "collection",
        "result",
        "hasMember",
        "derivedFrom",
        "authoredOn",
        "dosageInstruction",
        "contained",
        "medicationReference",
        "reference",
        "effectivePeriod",
        "start",
        "type",
        "text",
    ]
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


PATHS = [p for p in _paths(SEED) if p]


_INPUT_POSITION = re.compile(r"input\[\d+\](?:\.entry\[\d+\](?:\.resource)?)*(?:\.entry|\.resourceType)?")
_RESOURCE = re.compile(r"[A-Z][A-Za-z]{1,63}/.+", re.DOTALL)  # the reference the input gives it
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}(?:\.[a-z][A-Za-z]*)?")  # all of a type, an element


def _names_a_place(where: str | None) -> bool:
    return bool(where) and any(
        pattern.fullmatch(where or "") for pattern in (_INPUT_POSITION, _RESOURCE, _RESOURCE_TYPE)
    )


def _unplaced(messages: Iterable[Message]) -> list[Message]:
    return [m for m in messages if not _names_a_place(m.where) or not m.text.strip()]


def _mutated(mutations: list[tuple[tuple[Any, ...], Any, str]]) -> dict[str, Any]:
    bundle: dict[str, Any] = copy.deepcopy(SEED)
    for path, value, key in mutations:
        node: Any = bundle
        try:
            for part in path[:-1]:
                node = node[part]
            if isinstance(node, dict | list):
                node[path[-1]] = value
            if isinstance(node, dict):
                node[key] = value
        except (KeyError, IndexError, TypeError):
            continue
    return bundle


def _reader_bugs(messages: Iterable[Message]) -> list[Message]:
    """Messages saying the reader itself failed: never for any input, however malformed."""
    return [m for m in messages if m.text.startswith(INTERNAL_ERROR)]


def _evaluated(bundle: dict[str, Any], catalogue: Catalogue, tumour: str | None) -> Assessment | InputError:
    """The assessment, or the refusal: the one exception allowed (any other fails the test)."""
    try:
        return evaluate([bundle], catalogue=catalogue, tumour=tumour)
    except InputError as refusal:
        return refusal


def _messages_written(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The issues of the GuidanceResponse's contained OperationOutcome (the messages)."""
    resources = [e["resource"] for e in bundle["entry"]]
    (guidance,) = [r for r in resources if r["resourceType"] == "GuidanceResponse"]
    (outcome,) = [c for c in guidance["contained"] if c["resourceType"] == "OperationOutcome"]
    issues: list[dict[str, Any]] = outcome["issue"]
    return issues


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(PATHS), json_values, keys), min_size=1, max_size=6),
    st.one_of(st.none(), st.sampled_from(["COADREAD", "coad", "NOPE"]), st.text(max_size=8)),
)
def test_mutated_bundle_is_answered_and_every_message_is_placed(
    catalogue: Catalogue, mutations: list[tuple[tuple[Any, ...], Any, str]], tumour: str | None
) -> None:
    assessment = _evaluated(_mutated(mutations), catalogue, tumour)
    if isinstance(assessment, InputError):
        assert _names_a_place(assessment.where), assessment
        return
    assert _unplaced(assessment.messages) == []
    assert _reader_bugs(assessment.messages) == []
    written = _messages_written(to_bundle(assessment))
    if assessment.messages:
        assert [i.get("expression") for i in written] == [[m.where] for m in assessment.messages]


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=4))
def test_arbitrary_json_is_read_and_every_message_is_placed(resources: list[Any]) -> None:
    context = read_context(resources)
    assert _unplaced(context.messages) == []
    assert _reader_bugs(context.messages) == []
    for index, resource in enumerate(resources):
        if not isinstance(resource, dict):
            assert any(m.where == f"input[{index}]" for m in context.messages)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=64), st.text(max_size=64)))
@example("[" * 100_000)
@example(b'{"n": 1' + b"0" * 5000 + b"}")
@example('{"s": "\\ud800"}')
def test_parse_json_raises_nothing_but_json_problem(text: str | bytes) -> None:
    problem = _json_problem(text)
    if problem is not None:
        assert str(problem)
        assert problem.where == "" or re.fullmatch(r":\d+:\d+", problem.where)


def _json_problem(text: str | bytes) -> JsonProblem | None:
    """What parse_json refuses the text with; any other exception fails the test."""
    try:
        parse_json(text)
    except JsonProblem as problem:
        return problem
    return None


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=96), st.sampled_from([".json", ".ndjson"]))
@example(b"\xef\xbb\xbf{}", ".json")
@example(b'{"resourceType": "Patient"}\nnot json\n[]\n', ".ndjson")
def test_any_file_is_read_and_every_problem_names_the_file(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(content)
        resources, problems = read_files([path])
    assert all(isinstance(r, dict) for r in resources)
    assert [p for p in problems if not p.where.startswith(str(path)) or not p.text.strip()] == []
