"""The completion manifest of an export (Bulk Data Access IG, "Response - Complete Status").

Only what is used is required: ``transactionTime`` (the ``_since`` of the next export),
``requiresAccessToken``, and ``output`` (possibly empty) with each file's ``type`` and ``url``;
``count`` and ``error`` are optional, as the IG and HAPI (which sends neither) have them. A
manifest that is not so is the server's fault: a ``ServerError`` naming the element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fhir_resist.errors import ServerError

_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")  # also a safe part of a file name


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of the manifest: its resource type, its URL and the server's count, if given."""

    type: str
    url: str
    count: int | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    transaction_time: str
    request: str | None
    requires_access_token: bool
    output: tuple[FileEntry, ...]
    error: tuple[FileEntry, ...]


def parse_manifest(data: Any, where: str = "export manifest") -> Manifest:
    """The manifest of a complete export, checked element by element."""
    if not isinstance(data, dict):
        raise _bad(where, "the status answer is not a JSON object")
    when = data.get("transactionTime")
    if not isinstance(when, str) or not when:
        raise _bad(where, "transactionTime: missing or not a string")
    request = data.get("request")
    if request is not None and not isinstance(request, str):
        raise _bad(where, "request: not a string")
    token = data.get("requiresAccessToken")
    if not isinstance(token, bool):
        raise _bad(where, "requiresAccessToken: missing or not true/false")
    return Manifest(
        transaction_time=when,
        request=request,
        requires_access_token=token,
        output=_entries(data, "output", where, required=True),
        error=_entries(data, "error", where, required=False),
    )


def _entries(data: dict[str, Any], name: str, where: str, *, required: bool) -> tuple[FileEntry, ...]:
    items = data.get(name)
    if items is None and not required:
        return ()
    if not isinstance(items, list):
        raise _bad(where, f"{name}: missing or not an array")
    return tuple(_entry(item, f"{name}[{i}]", where) for i, item in enumerate(items))


def _entry(item: Any, at: str, where: str) -> FileEntry:
    if not isinstance(item, dict):
        raise _bad(where, f"{at}: not an object")
    rtype = item.get("type")
    if not isinstance(rtype, str) or not _RESOURCE_TYPE.fullmatch(rtype):
        raise _bad(where, f"{at}.type: missing or not a resource type")
    url = item.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _bad(where, f"{at}.url: missing or not an absolute http(s) URL")
    count = item.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise _bad(where, f"{at}.count: not a non-negative integer")
    return FileEntry(rtype, url, count)


def _bad(where: str, text: str) -> ServerError:
    return ServerError(f"{where}: {text}", retryable=False)
