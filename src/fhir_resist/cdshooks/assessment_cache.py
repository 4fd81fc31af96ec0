"""The last few assessments of hook calls whose data all came in the request (prefetch), found
from the raw body's bytes without parsing them.

A chart opened again with the same data sends the same body but for what changes per call: the
``hookInstance`` (and the ``fhirAuthorization.access_token``). The key is the SHA-256 of the
service, the catalogue's version, the day and the body's bytes with exactly those string values
cut out; the values cut out of the new call are read from their own bytes (a JSON string each)
and checked as a parsed request would check them. So a repeated call is answered without
parsing its megabyte of prefetch, and a hit can only be a body that differs from one that was
parsed, checked and assessed in nothing but those values.

Lexically, a member name can only be cut when it occurs once in the body in every spelling JSON
allows (a letter may be written ``\\u0049``), as a key, its quote not escaped, with a string
value. An entry is only stored after the call's parsed request has shown that what was cut is
its own ``hookInstance`` (and token): the same bytes around the same cut then mean the same
request.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from fhir_resist.cdshooks.hook_request import HookRequest
from fhir_resist.engine.model import Assessment
from fhir_resist.errors import InputError, JsonProblem
from fhir_resist.fhir.addresses import bearer_token
from fhir_resist.files import parse_json, unicode_escaped

_STRING = rb'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'  # one JSON string token


def _spellings(name: bytes) -> re.Pattern[bytes]:
    """``"name"`` with any of its letters escaped as ``\\u00XX`` (hex digits in either case)."""

    def letter(c: int) -> bytes:
        hexes = b"".join(b"[%c%c]" % (h, h ^ 0x20) if h >= 0x41 else bytes([h]) for h in b"%02X" % c)
        return b"(?:%c|\\\\u00%s)" % (c, hexes)

    return re.compile(b'"' + b"".join(letter(c) for c in name) + b'"')


@dataclass(frozen=True, slots=True)
class _Member:
    name: bytes
    spellings: re.Pattern[bytes]
    value: re.Pattern[bytes]


def _member(name: str) -> _Member:
    plain = name.encode()
    return _Member(
        b'"' + plain + b'"', _spellings(plain), re.compile(rb'"' + plain + rb'"\s*:\s*(' + _STRING + rb")")
    )


_HOOK_INSTANCE = _member("hookInstance")
_ACCESS_TOKEN = _member("access_token")


@dataclass(frozen=True, slots=True)
class CacheKey:
    """A call's key, and the per-call values read from its bytes (the token is never logged)."""

    digest: str
    hook_instance: str
    access_token: str | None  # None: the body names no access_token

    def __repr__(self) -> str:  # no token in a traceback or a log
        return f"CacheKey({self.digest[:12]}...)"

    def names(self, request: HookRequest) -> bool:
        """Whether what was cut out is exactly this parsed request's hookInstance and token."""
        token = request.fhirAuthorization.access_token if request.fhirAuthorization is not None else None
        return self.hook_instance == request.hookInstance and self.access_token == token


@dataclass(frozen=True, slots=True)
class Cached:
    """An assessment with what else its cards need from the request (the orders they speak of)."""

    assessment: Assessment
    ordering: tuple[str, ...]
    catalogue: object  # the catalogue it was assessed with: another one never answers
    page: dict[str, object] | None = None  # the patient page's model, when the call asked for one


class AssessmentCache:
    """The last ``size`` assessments of prefetch-only calls, by ``CacheKey.digest``. Calls that
    fetched anything from the FHIR server are never stored (the server's data is not in the key)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Cached] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def key(self, raw: bytes, service_id: str, catalogue_version: str, today: date) -> CacheKey | None:
        """The key of a raw body, or None when it cannot have one (caching off, the per-call
        values not cut out unambiguously, or not what a request may hold)."""
        if self.size <= 0:
            return None
        found = _cut(raw, _HOOK_INSTANCE)
        if found is None:
            return None
        rest, instance, at_instance = found
        token, at_token = None, -1
        if _named(rest, _ACCESS_TOKEN):
            cut_token = _cut(rest, _ACCESS_TOKEN)
            if cut_token is None:
                return None
            rest, token, at_token = cut_token
        if not _usable(instance, token):
            return None
        head = f"{service_id}\0{catalogue_version}\0{today.isoformat()}\0{at_instance}\0{at_token}\0".encode()
        return CacheKey(hashlib.sha256(head + rest).hexdigest(), instance, token)

    def get(self, key: CacheKey, catalogue: object) -> Cached | None:
        with self._lock:
            found = self._items.get(key.digest)
            if found is None or found.catalogue is not catalogue:
                return None
            self._items.move_to_end(key.digest)
            self.hits += 1
            return found

    def put(self, key: CacheKey, cached: Cached) -> None:
        with self._lock:
            self._items[key.digest] = cached
            self._items.move_to_end(key.digest)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _named(raw: bytes, member: _Member) -> bool:
    """Whether the member's name occurs in ``raw`` in any spelling."""
    return member.name in raw or (unicode_escaped(raw) and member.spellings.search(raw) is not None)


def _cut(raw: bytes, member: _Member) -> tuple[bytes, str, int] | None:
    """``raw`` without the member's string value, the value, and where it was cut; None unless
    the member's name occurs exactly once (in any spelling) as a key with a JSON string value."""
    if raw.count(member.name) != 1:
        return None
    if unicode_escaped(raw) and len(member.spellings.findall(raw)) != 1:
        return None
    match = member.value.search(raw)
    if match is None:
        return None
    start, end = match.span(1)
    if _escaped(raw, match.start()):  # the name's quote is escaped: it is inside a string
        return None
    try:
        value = parse_json(raw[start:end])
    except JsonProblem:  # not UTF-8
        return None
    return raw[:start] + raw[end:], value, start


def _escaped(raw: bytes, at: int) -> bool:
    """Whether the character at ``at`` follows an odd run of backslashes."""
    run = 0
    while at - run > 0 and raw[at - run - 1] == 0x5C:
        run += 1
    return run % 2 == 1


def _usable(instance: str, token: str | None) -> bool:
    """Whether the values a parsed request would accept (a hookInstance, a bearer token)."""
    if not instance:
        return False
    if token is None:
        return True
    try:
        bearer_token(token)
    except InputError:
        return False
    return True
