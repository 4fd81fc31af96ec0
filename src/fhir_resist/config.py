"""Configuration from ``FHIR_RESIST_*`` environment variables (CLI flags override them).

- FHIR_RESIST_FHIR_BASE: the FHIR server's base URL.
- FHIR_RESIST_FHIR_TOKEN: a fixed bearer token for it.
- FHIR_RESIST_SMART_CLIENT_ID and FHIR_RESIST_SMART_KEY_FILE: SMART backend services client id
  and PEM private key file (instead of a fixed token); FHIR_RESIST_SMART_TOKEN_URL (default:
  discovered), FHIR_RESIST_SMART_SCOPE, FHIR_RESIST_SMART_ALG (RS384 or ES384),
  FHIR_RESIST_SMART_KID.
- FHIR_RESIST_OUTBOX: outbox directory (default ``$XDG_STATE_HOME/fhir-resist/outbox``).
- FHIR_RESIST_WRITE_STRATEGY: ``put`` (default: client-assigned ids) or ``conditional``.
- FHIR_RESIST_TIMEOUT: seconds to wait for the FHIR server per request (default 30).
- FHIR_RESIST_RETRIES: attempts per request (default 4).
- FHIR_RESIST_CATALOGUE: an alternative catalogue directory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fhir_resist.errors import InputError
from fhir_resist.fhir.auth import DEFAULT_SCOPE, BackendServicesAuth, BackendServicesConfig
from fhir_resist.fhir.write.strategies import WRITE_STRATEGIES, WriteStrategy

if TYPE_CHECKING:  # the HTTP client (requests) is imported when a client is made
    from fhir_resist.fhir.client import FhirClient


@dataclass(frozen=True, slots=True)
class ServerSettings:
    base: str | None
    token: str | None
    outbox: Path
    strategy: WriteStrategy
    timeout: float
    attempts: int
    smart: BackendServicesConfig | None


def server_settings(
    env: Mapping[str, str] | None = None,
    *,
    base: str | None = None,
    token: str | None = None,
    outbox: str | None = None,
    strategy: str | None = None,
) -> ServerSettings:
    """Settings from the environment, with explicit values (CLI flags) taking precedence."""
    from fhir_resist.fhir.outbox import default_directory

    env = os.environ if env is None else env
    chosen = strategy or env.get("FHIR_RESIST_WRITE_STRATEGY") or "put"
    if chosen not in WRITE_STRATEGIES:
        raise InputError(
            f"'{chosen}' is not a write strategy ({', '.join(WRITE_STRATEGIES)})", where="write strategy"
        )
    smart = None
    client_id = env.get("FHIR_RESIST_SMART_CLIENT_ID")
    if client_id:
        key_file = env.get("FHIR_RESIST_SMART_KEY_FILE")
        if not key_file:
            raise InputError(
                "is set but FHIR_RESIST_SMART_KEY_FILE is not", where="FHIR_RESIST_SMART_CLIENT_ID"
            )
        try:
            key = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read the private key ({exc.strerror})", where=key_file) from exc
        smart = BackendServicesConfig(
            client_id=client_id,
            private_key_pem=key,
            scope=env.get("FHIR_RESIST_SMART_SCOPE") or DEFAULT_SCOPE,
            algorithm=env.get("FHIR_RESIST_SMART_ALG") or "RS384",
            key_id=env.get("FHIR_RESIST_SMART_KID"),
            token_url=env.get("FHIR_RESIST_SMART_TOKEN_URL"),
        )
    return ServerSettings(
        base=base or env.get("FHIR_RESIST_FHIR_BASE") or None,
        token=token or env.get("FHIR_RESIST_FHIR_TOKEN") or None,
        outbox=Path(outbox) if outbox else default_directory(),
        strategy=chosen,
        timeout=_number(env, "FHIR_RESIST_TIMEOUT", 30.0),
        attempts=int(_number(env, "FHIR_RESIST_RETRIES", 4)),
        smart=smart,
    )


def client_for(settings: ServerSettings, base: str | None = None) -> FhirClient:
    from fhir_resist.fhir.client import FhirClient, Retry

    url = base or settings.base
    if not url:
        raise InputError("no FHIR server: give --server or set FHIR_RESIST_FHIR_BASE", where="--server")
    auth = BackendServicesAuth(settings.smart, url) if settings.smart else None
    return FhirClient(
        url,
        token=settings.token,
        auth=auth,
        timeout=(min(10.0, settings.timeout), settings.timeout),
        retry=Retry(attempts=max(1, settings.attempts)),
    )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(f"'{text}' is not a number", where=name) from exc
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"must be a positive finite number, not {text}", where=name)
    return value
