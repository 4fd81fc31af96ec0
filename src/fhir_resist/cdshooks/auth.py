"""Verifying the CDS client's JWT (CDS Hooks 2.0 "Trusting CDS Clients", best-practice checklist).

Every call carries ``Authorization: Bearer <JWT>`` signed by the EHR. Accepted only when:
- ``alg`` is ES384 or RS384 (never ``none`` or an HMAC), the header names a ``kid``;
- ``iss`` is on the issuer allow-list;
- the key is found: from the header's ``jku`` if that URL is on the allow-list (JWK Set fetched
  and cached; fetched again once when a ``kid`` is unknown, at most once a minute), or from the
  keys configured out of band for that issuer;
- the signature verifies; ``aud`` (string or list) contains the exact URL being called; ``exp``
  has not passed; ``iat`` and ``jti`` are present; the token lives at most an hour;
- the ``jti`` has not been seen before from that issuer (kept until the token expires).
Any failure is ``Unauthorized`` with a reason for the service log; the client only ever sees 401.
Tokens are never logged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests

from fhir_resist.errors import Unauthorized

ALGORITHMS = frozenset({"ES384", "RS384"})
MAX_LIFETIME = 3600
JWKS_TTL = 3600
JWKS_REFETCH_GAP = 60


@dataclass(frozen=True, slots=True)
class Trust:
    issuers: frozenset[str]
    jku: frozenset[str] = frozenset()
    keys: Mapping[str, Any] = field(default_factory=dict)  # a JWK Set trusted out of band
    leeway: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Trust:
        keys: Mapping[str, Any] = {}
        path = env.get("FHIR_RESIST_CDS_JWKS")
        if path:
            keys = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            issuers=frozenset(_list(env.get("FHIR_RESIST_CDS_ISSUERS"))),
            jku=frozenset(_list(env.get("FHIR_RESIST_CDS_JKU"))),
            keys=keys,
        )


@dataclass(frozen=True, slots=True)
class Caller:
    issuer: str
    jti: str
    tenant: str | None


def _list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _fetch_jwks(url: str) -> Mapping[str, Any]:
    response = requests.get(url, headers={"Accept": "application/json"}, timeout=5)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JWK Set")
    return data


class Verifier:
    def __init__(
        self,
        trust: Trust,
        *,
        fetch: Callable[[str], Mapping[str, Any]] = _fetch_jwks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.trust = trust
        self._fetch = fetch
        self._clock = clock
        self._jwks: dict[str, tuple[float, Mapping[str, Any]]] = {}
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def verify(self, authorization: str | None, audience: str) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():  # the scheme is case-insensitive (RFC 7235)
            raise Unauthorized("no bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token ({type(exc).__name__})") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise Unauthorized(f"algorithm {alg!r} not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("no kid")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.trust.issuers:
            raise Unauthorized(f"issuer {issuer!r} not trusted")
        key = self._key(kid, header.get("jku"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                leeway=self.trust.leeway,
                options={"require": ["exp", "iat", "jti", "iss", "aud"]},
            )
        except (jwt.PyJWTError, TypeError, ValueError) as exc:  # a key of another type raises TypeError
            raise Unauthorized(f"rejected ({type(exc).__name__})") from exc
        if float(claims["exp"]) - float(claims["iat"]) > MAX_LIFETIME:
            raise Unauthorized("token lifetime over an hour")
        self._replay(issuer, str(claims["jti"]), float(claims["exp"]))
        tenant = claims.get("tenant")
        return Caller(issuer, str(claims["jti"]), tenant if isinstance(tenant, str) else None)

    def _key(self, kid: str, jku: Any) -> Any:
        if jku is not None:
            if not isinstance(jku, str) or jku not in self.trust.jku:
                raise Unauthorized("jku not on the allow-list")
            found = _find(self._jwks_of(jku, refresh=False), kid)
            if found is None:
                found = _find(self._jwks_of(jku, refresh=True), kid)
        else:
            found = _find(self.trust.keys, kid)
        if found is None:
            raise Unauthorized("no trusted key with that kid")
        try:
            return jwt.PyJWK.from_dict(dict(found)).key
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise Unauthorized(f"unusable key ({type(exc).__name__})") from exc

    def _jwks_of(self, url: str, *, refresh: bool) -> Mapping[str, Any]:
        now = self._clock()
        with self._lock:
            cached = self._jwks.get(url)
        if cached and (now - cached[0] < JWKS_TTL) and not (refresh and now - cached[0] > JWKS_REFETCH_GAP):
            return cached[1]
        try:
            keys = self._fetch(url)
        except (requests.RequestException, ValueError) as exc:
            if cached:
                return cached[1]
            raise Unauthorized(f"JWK Set not available ({type(exc).__name__})") from exc
        with self._lock:
            self._jwks[url] = (now, keys)
        return keys

    def _replay(self, issuer: str, jti: str, exp: float) -> None:
        now = self._clock()
        with self._lock:
            for key in [k for k, until in self._seen.items() if until < now]:
                del self._seen[key]
            if (issuer, jti) in self._seen:
                raise Unauthorized("jti replayed")
            self._seen[(issuer, jti)] = exp + self.trust.leeway


def _find(jwks: Mapping[str, Any], kid: str) -> Mapping[str, Any] | None:
    for key in jwks.get("keys") or []:
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None
