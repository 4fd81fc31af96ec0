"""The service's settings, from ``FHIR_RESIST_*`` environment variables (README, "The service")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args

from fhir_resist.cdshooks.auth import Trust
from fhir_resist.config import ServerSettings, server_settings

AuthMode = Literal["jwt", "off"]  # "off": callers are not authenticated (local development only)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    auth: AuthMode = "jwt"
    trust: Trust = field(default_factory=lambda: Trust(frozenset()))
    reports_token: str | None = None
    public_url: str | None = None
    max_body: int = 10 * 1024 * 1024
    max_resources: int = 20_000
    deadline: float = 10.0
    workers: int = 8
    processes: int = 0  # evaluator processes for hook calls (0: evaluate in this process's threads)
    catalogue_path: Path | None = None  # the catalogue evaluator processes load (None: the default)
    hook_cache: int = 32  # assessments of prefetch-only hook calls kept (0: none)
    feedback_path: Path = Path("fhir-resist-feedback.jsonl")
    cors_origins: tuple[str, ...] = ("*",)
    server: ServerSettings = field(default_factory=server_settings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if env is None else env
        server = server_settings(env)
        return cls(
            auth=_auth_mode(env.get("FHIR_RESIST_CDS_AUTH", "jwt")),
            trust=Trust.from_env(env),
            reports_token=env.get("FHIR_RESIST_REPORTS_TOKEN") or None,
            public_url=(env.get("FHIR_RESIST_PUBLIC_URL") or "").rstrip("/") or None,
            max_body=int(env.get("FHIR_RESIST_MAX_BODY", 10 * 1024 * 1024)),
            max_resources=int(env.get("FHIR_RESIST_MAX_RESOURCES", 20_000)),
            deadline=float(env.get("FHIR_RESIST_DEADLINE", 10.0)),
            workers=int(env.get("FHIR_RESIST_WORKERS", 8)),
            processes=int(env.get("FHIR_RESIST_PROCESSES", 0)),
            catalogue_path=Path(env["FHIR_RESIST_CATALOGUE"]) if env.get("FHIR_RESIST_CATALOGUE") else None,
            hook_cache=int(env.get("FHIR_RESIST_HOOK_CACHE", 32)),
            feedback_path=Path(env.get("FHIR_RESIST_FEEDBACK") or server.outbox.parent / "feedback.jsonl"),
            cors_origins=tuple(
                o.strip() for o in env.get("FHIR_RESIST_CORS_ORIGINS", "*").split(",") if o.strip()
            ),
            server=server,
        )


def _auth_mode(value: str) -> AuthMode:
    if value not in get_args(AuthMode):
        raise ValueError(f"FHIR_RESIST_CDS_AUTH must be jwt or off, not {value!r}")
    return cast(AuthMode, value)
