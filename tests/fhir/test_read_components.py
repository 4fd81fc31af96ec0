"""Observation components: the accessors read raw codings, and read them as Coding objects would.

``gene``, ``value_codes``, ``origin`` and ``first_code`` read the JSON directly (no ``Coding`` built
for each coding, no set of codes for a handful); each is checked here against its reading through
``codings()`` / ``code_set()`` on generated concepts, malformed ones included.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from fhir_resist import terminology
from fhir_resist.domain import Origin
from fhir_resist.fhir.read.components import Components, components, gene, origin, value_codes
from fhir_resist.fhir.read.elements import JSON, code_set, codes_of, codings, first_code, text

HGNC_SPELLINGS = [
    "http://www.genenames.org",
    "https://www.genenames.org/",
    "http://www.genenames.org/geneId",
    "urn:oid:2.16.840.1.113883.6.281",
    "http://loinc.org",
]
junk: st.SearchStrategy[object] = st.one_of(st.none(), st.integers(), st.booleans(), st.just([]), st.just({}))
strings = st.sampled_from(
    ["", " ", "HGNC:3236", "3236", "hgnc:6407", "egfr ", "KRAS", "LA6684-0", "LA6683-2"]
)
well_formed = st.fixed_dictionaries(
    {"system": st.sampled_from(HGNC_SPELLINGS), "code": strings},
    optional={"display": st.one_of(strings, junk)},
)
coding = st.one_of(
    well_formed,
    st.dictionaries(
        st.sampled_from(["system", "code", "display"]),
        st.one_of(strings, st.sampled_from(HGNC_SPELLINGS), junk),
    ),
)
concept = st.one_of(
    junk,
    st.fixed_dictionaries(
        {},
        optional={
            "coding": st.one_of(junk, coding, st.lists(st.one_of(coding, junk), max_size=4)),
            "text": st.one_of(strings, junk),
        },
    ),
)


def gene_by_codings(comp: dict[str, Any]) -> tuple[str | None, str | None]:
    """The gene of a gene-studied component as read through Coding objects."""
    value = comp.get("valueCodeableConcept")
    found = codings(value)
    for c in found:
        if c.system in {terminology.HGNC, terminology.HGNC_GENE_ID} and c.code:
            hgnc = c.code if c.code.upper().startswith("HGNC:") else f"HGNC:{c.code}"
            return (c.display.strip().upper() if c.display else None), hgnc
    for c in found:
        if c.display:
            return c.display.strip().upper(), None
    label = text(value)
    return (label.upper() if label else None), None


@given(concept)
@example({"coding": [{"system": "http://www.genenames.org/geneId", "code": "HGNC:3236", "display": " egfr"}]})
@example({"coding": [{"system": "urn:oid:2.16.840.1.113883.6.281", "code": "3236"}]})
@example({"coding": [{"system": "https://www.genenames.org/", "code": "", "display": "EGFR"}]})
@example({"coding": [{"system": "http://loinc.org", "code": "HGNC:1", "display": "kras"}], "text": "x"})
@example({"coding": [{"system": 7, "code": "HGNC:1"}, "junk"], "text": " kras "})
def test_gene_reads_raw_codings_as_coding_objects_would(value: object) -> None:
    comp = {"valueCodeableConcept": value}
    assert gene(comp) == gene_by_codings(comp)


@given(concept)
def test_first_code_is_the_first_of_codes_of(value: object) -> None:
    found = codes_of(value)
    assert first_code(value) == (found[0] if found else None)


@given(st.lists(concept, max_size=4))
def test_origin_reads_as_the_set_of_codes_would(values: list[object]) -> None:
    comps = [{"valueCodeableConcept": v} for v in values]
    expected = Origin.UNKNOWN
    for v in values:
        found = code_set(v)
        if terminology.SOMATIC in found:
            expected = Origin.SOMATIC
            break
        if terminology.GERMLINE in found:
            expected = Origin.GERMLINE
            break
    assert origin(comps) == expected


@given(st.lists(concept, max_size=4), st.lists(concept, max_size=3))
def test_value_codes_keep_the_order_reported_each_once(first: list[object], second: list[object]) -> None:
    comps: Components = {
        "a": [{"valueCodeableConcept": v} for v in first],
        "b": [{"valueCodeableConcept": v} for v in second],
    }
    every = [code for v in [*first, *second] for code in codes_of(v)]
    assert value_codes(comps, "a", "b") == list(dict.fromkeys(every))


def test_value_codes_of_repeated_change_types() -> None:
    def change(*codes: str) -> JSON:
        return {"valueCodeableConcept": {"coding": [{"code": c} for c in codes]}}

    comps = {
        "48019-4": [change("SO:0001483", "SO:0001583")],
        "48006-1": [change("SO:0001583"), change("SO:0001483")],
    }
    assert value_codes(comps, "48019-4", "48006-1") == ["SO:0001483", "SO:0001583"]
    assert value_codes(comps, "48006-1", "48019-4") == ["SO:0001583", "SO:0001483"]
    assert value_codes({"48019-4": [change("SO:0001483")]}, "48019-4") == ["SO:0001483"]
    assert value_codes(comps, "81258-6") == []


def test_components_group_by_each_code_in_order() -> None:
    first = {"code": {"coding": [{"code": "48018-6"}, {"code": "X"}]}}
    second = {"code": {"coding": {"code": "48018-6"}}}  # one coding not in a list
    third = {"code": {"coding": [{"code": ""}, "junk", {"code": 7}]}}
    fourth = {"code": {"coding": [{"code": "X"}]}}
    grouped = components({"component": [first, second, third, fourth, "junk"]})
    assert grouped == {"48018-6": [first, second], "X": [first, fourth]}
    assert components({"component": first}) == {"48018-6": [first], "X": [first]}
    assert components({"component": None}) == {}
