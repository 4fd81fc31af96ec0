"""The FHIR servers a hook call may name in ``fhirServer``: a well-formed base URL, on the allow-list.

A ``fhirServer`` is a base URL: ``http`` or ``https``, a host (a name, an IPv4 address or an
IPv6 literal in brackets; ASCII, so an internationalised name is given in its ``xn--`` form), an
optional port from 1 to 65535, a path without ``.`` or ``..`` segments, and no user info, query or
fragment. ``problem`` says what is wrong with one (the service answers 400 naming ``fhirServer``).

An ``AllowedServer`` is one configured base. It allows a ``fhirServer`` with the same origin
(scheme, host and port, the scheme's default port made explicit) whose path is the base's path or
lies below it, segment by segment: ``https://ehr.example.org/fhir`` allows ``.../fhir``,
``.../fhir/`` and ``.../fhir/r4``, never ``.../fhirx``, ``.../admin`` or another port.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from fhir_resist.errors import InputError
from fhir_resist.fhir.addresses import origin

MAX_LENGTH = 2048
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?")
_DOT_SEGMENTS = frozenset({".", "..", "%2e", "%2e%2e", ".%2e", "%2e."})


def problem(url: str) -> str | None:
    """What makes ``url`` unusable as a FHIR server's base URL, or None when it is one."""
    if len(url) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return "has spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "not a URL (a malformed host or a port that is not a number from 0 to 65535)"
    if parts.scheme.lower() not in ("http", "https"):
        return "not an http(s) URL"
    if not host or not _good_host(host, bracketed=parts.netloc.rpartition("@")[2].startswith("[")):
        return "no usable host"
    if port == 0:
        return "port 0 is not a port"
    if "@" in parts.netloc:
        return "a base URL carries no user name or password"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return "a base URL has no query or fragment"
    if any(segment.lower() in _DOT_SEGMENTS for segment in parts.path.split("/")):
        return "a base URL has no '.' or '..' segments"
    return None


def _good_host(host: str, *, bracketed: bool) -> bool:
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return host.isascii() and _HOST_NAME.fullmatch(host) is not None


@dataclass(frozen=True, slots=True)
class AllowedServer:
    """One configured FHIR server base: the ``fhirServer`` values it allows (see the module)."""

    origin: str  # scheme://host:port, lower-cased, the default port explicit
    path: str  # the base's path without its trailing '/'

    @classmethod
    def parse(cls, url: str, *, where: str) -> AllowedServer:
        """The allowed base ``url``; a malformed one is an ``InputError`` naming ``where``."""
        wrong = problem(url)
        if wrong:
            raise InputError(f"{url!r} is not a FHIR server base URL: {wrong}", where=where)
        return cls(origin(url), urlsplit(url).path.rstrip("/"))

    def allows(self, url: str) -> bool:
        if problem(url) is not None or origin(url) != self.origin:
            return False
        path = urlsplit(url).path.rstrip("/")
        return path == self.path or path.startswith(self.path + "/")

    def __str__(self) -> str:
        return self.origin + self.path


def allowed(url: str, servers: Iterable[AllowedServer] | None) -> bool:
    """Whether ``url`` is on the list (``None``: no list, any well-formed URL)."""
    if servers is None:
        return problem(url) is None
    return any(server.allows(url) for server in servers)
