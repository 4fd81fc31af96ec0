"""FHIR elements read defensively: every accessor takes whatever JSON holds and returns the
expected type or nothing, so the readers built on them never meet an unexpected shape."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from fhir_resist import terminology
from fhir_resist.domain import Coding

JSON = Mapping[str, Any]

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def items(obj: object, key: str) -> list[JSON]:
    """The objects in a list-valued element; anything else there is treated as absent."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, list):
        return [value] if isinstance(value, dict) else []
    out: list[JSON] = []
    for item in value:  # a plain loop: this runs for every element of every resource
        if isinstance(item, dict):
            out.append(item)
    return out


def obj(element: object, key: str) -> JSON:
    """An object-valued element, or an empty object."""
    value = element.get(key) if isinstance(element, dict) else None
    return value if isinstance(value, dict) else {}


def string(element: object, key: str) -> str | None:
    """A string-valued element, or None."""
    value = element.get(key) if isinstance(element, dict) else None
    return value if isinstance(value, str) else None


def codings(concept: object) -> tuple[Coding, ...]:
    """A CodeableConcept's codings, systems in their canonical form; malformed codings are skipped."""
    out = []
    for item in items(concept, "coding"):
        system, code, display = item.get("system"), item.get("code"), item.get("display")
        out.append(
            Coding(
                terminology.canonical_system(system) if isinstance(system, str) else None,
                code if isinstance(code, str) else None,
                display if isinstance(display, str) else None,
            )
        )
    return tuple(out)


def codes_of(concept: object) -> list[str]:
    """The non-empty codes of a CodeableConcept's codings, in order: for the many places where
    the code alone decides, without building a Coding (and its canonical system) for each."""
    listed = concept.get("coding") if isinstance(concept, dict) else None
    out = []
    for item in listed if isinstance(listed, list) else (listed,):  # a plain loop: runs per coding
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code:
            out.append(code)
    return out


def code_set(concept: object) -> frozenset[str]:
    """The codes of a CodeableConcept's codings."""
    return frozenset(codes_of(concept))


def first_code(concept: object) -> str | None:
    """The first non-empty code of a CodeableConcept, in the order given."""
    listed = concept.get("coding") if isinstance(concept, dict) else None
    for item in listed if isinstance(listed, list) else (listed,):  # codes_of, stopping at the first
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code:
            return code
    return None


def text(concept: object) -> str | None:
    """A CodeableConcept's text, stripped; None when empty."""
    value = concept.get("text") if isinstance(concept, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None


def displays(concept: object) -> list[str]:
    """The non-empty displays of a CodeableConcept's codings, in order."""
    return [d for item in items(concept, "coding") if isinstance(d := item.get("display"), str) and d]


def words(concept: object) -> str:
    """A CodeableConcept's text and the displays of its codings, as one string."""
    return " ".join(filter(None, [text(concept), *displays(concept)]))


def reference(value: object) -> str | None:
    """The reference string of a Reference element."""
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) and ref else None


def parse_date(value: object) -> date | None:
    """The date part of a FHIR date/dateTime/instant; partial dates take the first day."""
    if not isinstance(value, str):
        return None
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":  # a full date, the usual case
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass  # read as a partial date below
    match = _DATE.match(value)
    if match is None:
        return None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def number(value: object) -> float | None:
    """A JSON number as a finite float; None for booleans, NaN, infinities and integers too
    large for a float (a 400-digit integer is valid JSON)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        out = float(value)
    except OverflowError:
        return None
    return out if math.isfinite(out) else None


def unit_of(quantity: JSON) -> str:
    """A Quantity's unit: its code, else its human unit, else empty."""
    return string(quantity, "code") or string(quantity, "unit") or ""


def profile_is(resource: JSON, suffix: str) -> bool:
    """Whether the resource claims a profile whose canonical URL ends with ``suffix``."""
    profiles = obj(resource, "meta").get("profile")
    listed = profiles if isinstance(profiles, list) else []
    return any(isinstance(p, str) and p.split("|")[0].endswith(suffix) for p in listed)


def observed(resource: JSON) -> date | None:
    """When an Observation or DiagnosticReport was observed: effective[x], else issued."""
    return (
        parse_date(resource.get("effectiveDateTime"))
        or parse_date(obj(resource, "effectivePeriod").get("start"))
        or parse_date(resource.get("issued"))
    )
