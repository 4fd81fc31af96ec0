"""Whom the service trusts, and with what: each CDS client (its ``iss``), its keys, its FHIR servers.

A trusted client is bound to what belongs to it: its token is verified only with its own keys
(the JWK Sets at its own ``jku`` URLs, or its own JWK Set trusted out of band), and its hook calls
may name only its own FHIR servers as ``fhirServer`` (the access token it sends goes nowhere else).

Configured in one of two forms (README, "The service"):

- ``FHIR_RESIST_CDS_CLIENTS``: a JSON file naming each client::

      {"clients": [{"issuer": "https://ehr.example.org",
                    "jku": ["https://ehr.example.org/.well-known/jwks.json"],
                    "jwks": "ehr-keys.json",
                    "fhirServers": ["https://ehr.example.org/fhir"]}]}

  ``jwks`` is a JWK Set file (relative to the clients file) or the JWK Set itself; ``jku``,
  ``jwks`` and ``fhirServers`` are optional (no ``fhirServers``: the client's hook calls must
  bring their data as prefetch).
- The flat variables ``FHIR_RESIST_CDS_ISSUERS`` (comma-separated), ``FHIR_RESIST_CDS_JKU``,
  ``FHIR_RESIST_CDS_JWKS`` and ``FHIR_RESIST_CDS_FHIR_SERVERS`` (comma- or space-separated base
  URLs). The last three belong to the one issuer named; with several issuers they are refused,
  since they would bind one client's keys and servers to the others.

With authentication off there is no client: a hook call may name the FHIR servers the
configuration names (``FHIR_RESIST_CDS_FHIR_SERVERS``, or every client's), or any when it names none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_resist.cdshooks.fhir_servers import AllowedServer
from fhir_resist.errors import InputError

CLIENTS = "FHIR_RESIST_CDS_CLIENTS"
ISSUERS = "FHIR_RESIST_CDS_ISSUERS"
FLAT_BINDINGS = ("FHIR_RESIST_CDS_JKU", "FHIR_RESIST_CDS_JWKS", "FHIR_RESIST_CDS_FHIR_SERVERS")
CLIENT_FIELDS = frozenset({"issuer", "jku", "jwks", "fhirServers"})


@dataclass(frozen=True, slots=True)
class TrustedClient:
    issuer: str
    jku: frozenset[str] = frozenset()  # JWK Set URLs its tokens may name
    keys: Mapping[str, Any] = field(default_factory=dict)  # its JWK Set trusted out of band
    fhir_servers: tuple[AllowedServer, ...] = ()  # the fhirServer values its hook calls may name


@dataclass(frozen=True, slots=True)
class Trust:
    clients: Mapping[str, TrustedClient] = field(default_factory=dict)  # by issuer
    unbound_servers: tuple[AllowedServer, ...] = ()  # FHIR_RESIST_CDS_FHIR_SERVERS with no issuer named
    leeway: float = 30.0

    @classmethod
    def of(cls, *clients: TrustedClient, unbound_servers: tuple[AllowedServer, ...] = ()) -> Trust:
        return cls({c.issuer: c for c in clients}, unbound_servers)

    @property
    def issuers(self) -> frozenset[str]:
        return frozenset(self.clients)

    def client(self, issuer: str) -> TrustedClient | None:
        return self.clients.get(issuer)

    def servers_without_auth(self) -> tuple[AllowedServer, ...] | None:
        """With authentication off: every FHIR server the configuration names; None (any) if none."""
        named = self.unbound_servers + tuple(s for c in self.clients.values() for s in c.fhir_servers)
        return named or None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Trust:
        """The trust configured in ``env`` (either form); an ``InputError`` naming the setting."""
        flat = [name for name in (ISSUERS, *FLAT_BINDINGS) if env.get(name)]
        path = env.get(CLIENTS)
        if path and flat:
            raise InputError(f"set either it or {', '.join(flat)}, not both", where=CLIENTS)
        return _from_file(Path(path)) if path else _from_flat(env)


def _from_flat(env: Mapping[str, str]) -> Trust:
    issuers = _items(env.get(ISSUERS), ",")
    jku = frozenset(_items(env.get("FHIR_RESIST_CDS_JKU"), ","))
    jwks = env.get("FHIR_RESIST_CDS_JWKS")
    keys = _jwk_set(_read_json(Path(jwks)), where=jwks) if jwks else {}
    servers = tuple(
        AllowedServer.parse(url, where="FHIR_RESIST_CDS_FHIR_SERVERS")
        for url in _items(env.get("FHIR_RESIST_CDS_FHIR_SERVERS"), ", ")
    )
    bound = [name for name in FLAT_BINDINGS if env.get(name)]
    if len(issuers) > 1 and bound:
        raise InputError(
            f"apply to a single issuer, and {ISSUERS} names {len(issuers)}: name each issuer's keys "
            f"and FHIR servers in a clients file ({CLIENTS})",
            where=", ".join(bound),
        )
    if not issuers:
        return Trust(unbound_servers=servers)
    return Trust.of(*(TrustedClient(i, jku, keys, servers) for i in issuers))


def _from_file(path: Path) -> Trust:
    doc = _read_json(path)
    if not isinstance(doc, dict) or set(doc) != {"clients"} or not isinstance(doc["clients"], list):
        raise InputError('not {"clients": [...]}', where=str(path))
    trust = [_client(entry, path, f"clients[{n}]") for n, entry in enumerate(doc["clients"])]
    issuers = [c.issuer for c in trust]
    twice = sorted({i for i in issuers if issuers.count(i) > 1})
    if twice:
        raise InputError(f"issuer {twice[0]!r} is named more than once", where=str(path))
    return Trust.of(*trust)


def _client(entry: Any, path: Path, at: str) -> TrustedClient:
    where = f"{path}: {at}"
    if not isinstance(entry, dict):
        raise InputError("not an object", where=where)
    unknown = sorted(set(entry) - CLIENT_FIELDS)
    if unknown:
        raise InputError(
            f"unknown field {unknown[0]!r} (known: {', '.join(sorted(CLIENT_FIELDS))})", where=where
        )
    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer.strip():
        raise InputError("an issuer (the iss its tokens carry) is required", where=f"{where}.issuer")
    jwks = entry.get("jwks")
    if isinstance(jwks, str):
        jwks = _read_json(path.parent / jwks)
    keys = _jwk_set(jwks, where=f"{where}.jwks") if jwks is not None else {}
    servers = tuple(
        AllowedServer.parse(url, where=f"{where}.fhirServers[{n}]")
        for n, url in enumerate(_strings(entry.get("fhirServers"), f"{where}.fhirServers"))
    )
    return TrustedClient(issuer, frozenset(_strings(entry.get("jku"), f"{where}.jku")), keys, servers)


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError("a list of URLs is required", where=where)
    return list(value)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror})", where=str(path)) from exc
    except ValueError as exc:
        raise InputError(f"not JSON ({exc})", where=str(path)) from exc


def _jwk_set(value: Any, *, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise InputError('not a JWK Set ({"keys": [...]})', where=where)
    return value


def _items(text: str | None, separators: str) -> list[str]:
    return [part.strip() for part in re.split(f"[{re.escape(separators)}]+", text or "") if part.strip()]
