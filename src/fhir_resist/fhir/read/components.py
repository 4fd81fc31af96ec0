"""Observation components: grouped by code, and the values fhir_resist reads from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fhir_resist import terminology
from fhir_resist.domain import Origin
from fhir_resist.fhir.read.elements import (
    JSON,
    codes_of,
    codings,
    first_code,
    number,
    obj,
    text,
)

Components = Mapping[str, list[JSON]]
Gene = tuple[str | None, str | None]  # (symbol as reported, upper case; HGNC id)
FUSION_SEPARATOR = "::"  # HGNC's notation for the product of a fusion: 5' partner :: 3' partner
_HGNC_SYSTEMS = frozenset({terminology.HGNC, terminology.HGNC_GENE_ID})


def components(resource: JSON) -> dict[str, list[JSON]]:
    """An Observation's components by each code they carry, in the order given."""
    out: dict[str, list[JSON]] = {}
    listed_comps = resource.get("component")  # items() and codes_of() inlined: runs for every component
    if not isinstance(listed_comps, list):
        listed_comps = [listed_comps] if isinstance(listed_comps, dict) else []
    for comp in listed_comps:
        if not isinstance(comp, dict):
            continue
        concept = comp.get("code")
        listed = concept.get("coding") if isinstance(concept, dict) else None
        for item in listed if isinstance(listed, list) else (listed,):
            code = item.get("code") if isinstance(item, dict) else None
            if isinstance(code, str) and code:
                group = out.get(code)
                if group is None:
                    out[code] = [comp]
                else:
                    group.append(comp)
    return out


def component_text(comp: JSON) -> str | None:
    """A component's value as text: its first code, else its concept text, else valueString."""
    concept = comp.get("valueCodeableConcept")
    found = first_code(concept) or text(concept)
    if found:
        return found
    value = comp.get("valueString")
    return value if isinstance(value, str) and value.strip() else None


def first_text(comps: Components, key: str) -> str | None:
    """The first text of the components with this code."""
    return next(filter(None, map(component_text, comps.get(key, ()))), None)


def all_text(comps: Components, key: str) -> str:
    """Every text of the components with this code, space-separated."""
    return " ".join(filter(None, map(component_text, comps.get(key, ()))))


def value_codes(comps: Components, *keys: str) -> list[str]:
    """The codes of these components' values, in the order reported, each once."""
    found = [
        code
        for key in keys
        for comp in comps.get(key, ())
        for code in codes_of(comp.get("valueCodeableConcept"))
    ]
    return found if len(found) < 2 else list(dict.fromkeys(found))  # one code, the usual case: as it is


def gene(comp: JSON) -> tuple[str | None, str | None]:
    """(symbol, HGNC id) of a gene-studied component."""
    concept = comp.get("valueCodeableConcept")
    listed = concept.get("coding") if isinstance(concept, dict) else None  # read raw, items() inlined
    if not isinstance(listed, list):
        listed = [listed] if isinstance(listed, dict) else []
    for item in listed:
        if not isinstance(item, dict):
            continue
        system, code = item.get("system"), item.get("code")
        if (
            isinstance(code, str)
            and code
            and isinstance(system, str)
            and (system in _HGNC_SYSTEMS or terminology.canonical_system(system) in _HGNC_SYSTEMS)
        ):
            hgnc = code if code.upper().startswith("HGNC:") else f"HGNC:{code}"
            display = item.get("display")
            return (display.strip().upper() if isinstance(display, str) and display else None), hgnc
    for item in listed:
        display = item.get("display") if isinstance(item, dict) else None
        if isinstance(display, str) and display:
            return display.strip().upper(), None
    label = text(concept)
    return (label.upper() if label else None), None


def fusion_genes(comp: JSON) -> tuple[Gene, ...] | None:
    """The partners of a gene-fusion component (MII, LOINC 95123-6) in HGNC's 5'::3' notation,
    from a coding's code (HGNC ids or symbols) with its display (symbols), else from the
    concept's text or valueString; None when the value is not in that notation."""
    concept = comp.get("valueCodeableConcept")
    for coding in codings(concept):
        if coding.code and FUSION_SEPARATOR in coding.code:
            parts = _fusion_parts(coding.code)
            shown = _fusion_parts(coding.display) if coding.display else ()
            names = shown if len(shown) == len(parts) else (None,) * len(parts)
            return tuple(_fusion_gene(part, name) for part, name in zip(parts, names, strict=True))
    candidates = [text(concept), *(c.display for c in codings(concept)), comp.get("valueString")]
    for candidate in candidates:
        if isinstance(candidate, str) and FUSION_SEPARATOR in candidate:
            return tuple(_fusion_gene(part, None) for part in _fusion_parts(candidate))
    return None


def _fusion_parts(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(FUSION_SEPARATOR))


def _fusion_gene(part: str, name: str | None) -> Gene:
    """One partner: an HGNC id (its symbol from the display, if any) or a symbol."""
    if part.upper().startswith("HGNC:") and part[5:].strip().isdigit():
        return (name.upper() if name and not name.upper().startswith("HGNC:") else None), (
            f"HGNC:{part[5:].strip()}"
        )
    return (part.upper() or None), None


def origin(comps: Iterable[JSON]) -> Origin:
    """Somatic or germline, from the genomic-source-class components."""
    for comp in comps:
        found = codes_of(comp.get("valueCodeableConcept"))
        if terminology.SOMATIC in found:
            return Origin.SOMATIC
        if terminology.GERMLINE in found:
            return Origin.GERMLINE
    return Origin.UNKNOWN


def quantity(comps: Iterable[JSON]) -> float | None:
    """The first numeric value: valueQuantity, the low end of valueRange, or valueInteger."""
    for comp in comps:
        for value in (
            obj(comp, "valueQuantity").get("value"),
            obj(obj(comp, "valueRange"), "low").get("value"),
            comp.get("valueInteger"),
        ):
            if (found := number(value)) is not None:
                return found
    return None
