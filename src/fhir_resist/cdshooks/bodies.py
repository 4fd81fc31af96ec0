"""Request bodies: read within the limits (413 past them), then as JSON (400 when not JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_resist.errors import HttpError, JsonProblem
from fhir_resist.files import parse_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from fhir_resist.cdshooks.settings import ServiceSettings


async def read_body(request: Request, settings: ServiceSettings) -> bytes:
    """The body as sent: a 413 when it is (or is declared) over ``max_body`` bytes or holds more
    than ``max_resources`` resources."""
    max_body, max_resources = settings.max_body, settings.max_resources
    declared = request.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise HttpError(413, f"the body is over {max_body} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise HttpError(413, f"the body is over {max_body} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if raw.count(b'"resourceType"') > max_resources:
        raise HttpError(413, f"more than {max_resources} resources in one request")
    return raw


def parse_body(raw: bytes) -> Any:
    """The JSON of a request body, or the 400 naming where it fails."""
    try:
        return parse_json(raw)
    except JsonProblem as exc:
        raise HttpError(400, f"the body is not JSON ({exc}{exc.where})") from None
