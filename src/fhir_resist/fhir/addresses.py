"""What may be sent where: FHIR ids, bearer tokens and the origin of a URL.

A patient id is checked before it becomes part of a URL; a token before it becomes a header; a
URL's origin before a request (a next link, a ``fhirServer``) is made with the access token.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fhir_resist.errors import InputError

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 id


def is_fhir_id(value: str) -> bool:
    """Whether a string is a FHIR resource id (no '/', '..' segments, NUL or newline can pass)."""
    return _FHIR_ID.fullmatch(value) is not None and value not in {".", ".."}


_BEARER = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 b64token


def bearer_token(token: str) -> str:
    """The token, when it is one a bearer header can carry (RFC 6750); refused otherwise, without
    repeating it (a token never appears in a message or a log)."""
    if not _BEARER.fullmatch(token):
        raise InputError(
            "the access token has characters a bearer token cannot have (RFC 6750); it is not sent",
            where="FHIR server token",
        )
    return token


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased, with the scheme's default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None  # a port that is no number: no origin matches it
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"
