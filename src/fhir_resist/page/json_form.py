"""The page as plain JSON and back: how a page crosses from an evaluator process and is kept on disk.

``page_json`` gives dicts, lists, strings, numbers, booleans and None only (dates as ISO 8601
text), so it can be pickled between processes and written with ``json`` without carrying any
object. ``page_from_json`` builds the frozen values again, checking every field's type on the way
(a ``ValueError`` naming the field when the data is not a page of this version).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime
from typing import Any, TypeVar, Union, get_args, get_origin

from fhir_resist.page.model import Page

T = TypeVar("T")
JSON = dict[str, Any]


def page_json(page: Page) -> JSON:
    """The page as JSON-ready data."""
    out = _plain(page)
    assert isinstance(out, dict)
    return out


def page_from_json(data: Any) -> Page:
    """The page again; ``ValueError`` naming the first field that is not what a page holds."""
    page = _value(Page, data, "page")
    assert isinstance(page, Page)
    return page


_AS_IS = frozenset({str, int, float, bool, type(None)})
_FIELDS: dict[type, tuple[str, ...]] = {}  # each page class's field names (asked of dataclasses once)


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is tuple:
        return [_plain(v) for v in value]
    names = _FIELDS.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(kind):
            assert isinstance(value, date), kind  # datetime too
            return value.isoformat()
        names = _FIELDS.setdefault(kind, tuple(f.name for f in dataclasses.fields(kind)))
    return {name: _plain(getattr(value, name)) for name in names}


def _value(kind: Any, data: Any, where: str) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        if data is None and type(None) in get_args(kind):
            return None
        (inner,) = [a for a in get_args(kind) if a is not type(None)]
        return _value(inner, data, where)
    if origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"{where}: a list expected")
        inner = get_args(kind)[0]
        return tuple(_value(inner, item, f"{where}[{n}]") for n, item in enumerate(data))
    if dataclasses.is_dataclass(kind):
        return _dataclass(kind, data, where)
    if kind in (datetime, date):
        return _when(kind, data, where)
    if kind is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if kind in (str, bool) and type(data) is kind:
        return data
    raise ValueError(f"{where}: {kind.__name__} expected")


def _dataclass(kind: Any, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: an object expected")
    hints = typing.get_type_hints(kind)
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: not a field")
    values = {}
    for name, spec in fields.items():
        if name not in data:
            if spec.default is dataclasses.MISSING:
                raise ValueError(f"{where}.{name}: missing")
            continue
        values[name] = _value(hints[name], data[name], f"{where}.{name}")
    return kind(**values)


def _when(kind: type[date], data: Any, where: str) -> date:
    if not isinstance(data, str):
        raise ValueError(f"{where}: ISO 8601 text expected")
    try:
        return kind.fromisoformat(data)
    except ValueError:
        raise ValueError(f"{where}: not an ISO 8601 {kind.__name__}") from None
