"""Verifying the CDS client's JWT (CDS Hooks 2.0 "Trusting CDS Clients", best-practice checklist).

Every call carries ``Authorization: Bearer <JWT>`` signed by the EHR. Accepted only when:
- ``alg`` is ES384 or RS384 (never ``none`` or an HMAC), the header names a ``kid``;
- ``iss`` is a trusted client (``trust.Trust``), and the key is that client's own: from the
  header's ``jku`` if that URL is on the client's list (``jwks.JwksCache``: cached, fetched off
  the event loop, failures remembered), or from the JWK Set configured for it out of band. A key
  of another trusted client never verifies its tokens;
- the signature verifies; ``aud`` (string or list) contains the exact URL being called, as the
  configured public URL names it; ``exp`` has not passed; ``iat`` and ``jti`` are present; the
  token lives at most an hour;
- the ``jti`` has not been seen before from that issuer by any process of the service (the shared
  state, kept until the token expires).
Any failure is ``Unauthorized`` with a reason for the service log; the client only ever sees 401.
Tokens are never logged.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from fhir_resist.cdshooks.fhir_servers import AllowedServer
from fhir_resist.cdshooks.jwks import Fetch, JwksCache, fetch_jwks
from fhir_resist.cdshooks.shared_state import SharedState
from fhir_resist.cdshooks.trust import Trust, TrustedClient
from fhir_resist.errors import Unauthorized

__all__ = ["Caller", "Trust", "TrustedClient", "Verifier"]

log = logging.getLogger("fhir_resist.service")
ALGORITHMS = frozenset({"ES384", "RS384"})
MAX_LIFETIME = 3600


@dataclass(frozen=True, slots=True)
class Caller:
    issuer: str
    jti: str
    tenant: str | None
    fhir_servers: tuple[AllowedServer, ...] = ()  # the fhirServer values its hook calls may name


@dataclass(frozen=True, slots=True)
class _Unverified:
    token: str
    alg: str
    kid: str
    jku: Any
    issuer: str


class Verifier:
    def __init__(
        self,
        trust: Trust,
        *,
        fetch: Fetch = fetch_jwks,
        clock: Callable[[], float] = time.time,
        seen: SharedState | None = None,
    ) -> None:
        self.trust = trust
        self._clock = clock
        self._jwks = JwksCache(fetch, clock=clock)
        self._seen = seen if seen is not None else SharedState()

    async def verify(self, authorization: str | None, audience: str) -> Caller:
        """The trusted caller of ``audience`` (the URL called), or ``Unauthorized``."""
        claimed = self._claimed(authorization)
        client = self.trust.client(claimed.issuer)
        if client is None:
            raise Unauthorized(f"issuer {claimed.issuer!r} not trusted")
        key = await self._key(client, claimed.kid, claimed.jku)
        try:
            claims = jwt.decode(
                claimed.token,
                key,
                algorithms=[claimed.alg],
                audience=audience,
                issuer=claimed.issuer,
                leeway=self.trust.leeway,
                options={"require": ["exp", "iat", "jti", "iss", "aud"]},
            )
        except (jwt.PyJWTError, TypeError, ValueError) as exc:  # a key of another type raises TypeError
            raise Unauthorized(f"rejected ({type(exc).__name__})") from exc
        if float(claims["exp"]) - float(claims["iat"]) > MAX_LIFETIME:
            raise Unauthorized("token lifetime over an hour")
        self._replay(claimed.issuer, str(claims["jti"]), float(claims["exp"]))
        tenant = claims.get("tenant")
        return Caller(
            claimed.issuer,
            str(claims["jti"]),
            tenant if isinstance(tenant, str) else None,
            client.fhir_servers,
        )

    @staticmethod
    def _claimed(authorization: str | None) -> _Unverified:
        """What the token claims, before anything is verified."""
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
        if not isinstance(issuer, str):
            raise Unauthorized("no issuer")
        return _Unverified(token, str(alg), kid, header.get("jku"), issuer)

    async def _key(self, client: TrustedClient, kid: str, jku: Any) -> Any:
        """The key named ``kid`` among the client's own keys, never another client's."""
        if jku is not None:
            if not isinstance(jku, str) or jku not in client.jku:
                raise Unauthorized("jku not on the issuer's allow-list")
            found = _find(await self._jwks.keys(jku), kid)
            if found is None:
                found = _find(await self._jwks.keys(jku, refresh=True), kid)
        else:
            found = _find(client.keys, kid)
        if found is None:
            raise Unauthorized("no key of the issuer with that kid")
        try:
            return jwt.PyJWK.from_dict(dict(found)).key
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise Unauthorized(f"unusable key ({type(exc).__name__})") from exc

    def _replay(self, issuer: str, jti: str, exp: float) -> None:
        try:
            first = self._seen.first_use(issuer, jti, exp + self.trust.leeway, now=self._clock())
        except sqlite3.Error as exc:
            log.error("the token ids seen cannot be checked (%s): the call is refused", exc)
            raise Unauthorized("replay check unavailable") from None
        if not first:
            raise Unauthorized("jti replayed")

    def close(self) -> None:
        self._jwks.close()


def _find(jwks: Mapping[str, Any], kid: str) -> Mapping[str, Any] | None:
    for key in jwks.get("keys") or []:
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None
