"""Request bodies: read within the limits (413 past them), then as JSON (400 when not JSON).

Resources are counted by their ``"resourceType"`` keys, in any spelling JSON allows (a letter
may be written ``\\u0054``: ``"resource\\u0054ype"`` is the same key). A client that disconnects
before its body is complete is logged in one line and counted (``aborted_uploads``).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect

from fhir_resist.errors import HttpError, JsonProblem
from fhir_resist.files import parse_json, unicode_escaped

if TYPE_CHECKING:
    from starlette.requests import Request

    from fhir_resist.cdshooks.settings import ServiceSettings

log = logging.getLogger("fhir_resist.service")
RESOURCE_TYPE = b'"resourceType"'
# "resourceType" with any of its letters escaped as \u00XX (the hex digits in either case)


def _letter(c: int) -> bytes:
    hexes = b"".join(b"[%c%c]" % (h, h ^ 0x20) if h >= 0x41 else bytes([h]) for h in b"%02X" % c)
    return b"(?:%c|\\\\u00%s)" % (c, hexes)


_ESCAPED_KEY = re.compile(b'"' + b"".join(_letter(c) for c in RESOURCE_TYPE[1:-1]) + b'"')


async def read_body(request: Request, settings: ServiceSettings) -> bytes:
    """The body as sent: a 413 when it is (or is declared) over ``max_body`` bytes or holds more
    than ``max_resources`` resources."""
    max_body, max_resources = settings.max_body, settings.max_resources
    declared = request.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise HttpError(413, f"the body is over {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise HttpError(413, f"the body is over {max_body} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        request.app.state.service.metrics.inc("aborted_uploads")
        log.info("%s: the client disconnected after %d bytes of the body", request.url.path, size)
        raise HttpError(400, "the client disconnected before the body was complete") from None
    raw = b"".join(chunks)
    if resources_in(raw) > max_resources:
        raise HttpError(413, f"more than {max_resources} resources in one request")
    return raw


def resources_in(raw: bytes) -> int:
    """How many ``"resourceType"`` keys the JSON text holds, however they are spelt."""
    if not unicode_escaped(raw):
        return raw.count(RESOURCE_TYPE)  # no escape at all: the plain spelling is the only one
    return len(_ESCAPED_KEY.findall(raw))


def parse_body(raw: bytes) -> Any:
    """The JSON of a request body, or the 400 naming where it fails."""
    try:
        return parse_json(raw)
    except JsonProblem as exc:
        raise HttpError(400, f"the body is not JSON ({exc}{exc.where})") from None
