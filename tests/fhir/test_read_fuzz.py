"""No input shape crashes the reader or the engine: FHIR-shaped noise always yields an answer."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_resist import Catalogue, evaluate, to_bundle
from fhir_resist.fhir.read import read_context
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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values, keys), min_size=1, max_size=6))
def test_mutated_bundle_never_crashes(
    catalogue: Catalogue, mutations: list[tuple[tuple[Any, ...], Any, str]]
) -> None:
    bundle = copy.deepcopy(SEED)
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
    to_bundle(evaluate([bundle], catalogue=catalogue))


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=4))
def test_arbitrary_json_never_crashes(resources: list[Any]) -> None:
    read_context(resources)
