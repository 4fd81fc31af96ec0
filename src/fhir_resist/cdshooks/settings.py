"""The service's settings, from ``FHIR_RESIST_*`` environment variables (README, "The service").

``check`` refuses what the service must not run with: authentication on without the public URL
(the ``aud`` of every token is checked against it, never against request headers), and patient
pages' settings that cannot hold (a lifetime or count not above 0, a SMART launch URL without
the public URL).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args
from urllib.parse import urlsplit

from fhir_resist.cdshooks.trust import Trust
from fhir_resist.config import ServerSettings, server_settings
from fhir_resist.errors import InputError

AuthMode = Literal["jwt", "off"]  # "off": callers are not authenticated (local development only)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    auth: AuthMode = "jwt"
    trust: Trust = field(default_factory=Trust)
    reports_token: str | None = None
    public_url: str | None = None  # the external base URL CDS clients call: required with auth "jwt"
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
    state_dir: Path | None = None  # where the processes share token ids and counters (None: in memory)
    page_ttl: float = 24 * 3600.0  # seconds a patient page is served after its hook call
    pages_max: int = 10_000  # patient pages kept at most (the oldest go first)
    smart_launch_url: str | None = None  # cards link the page through this SMART app (None: directly)

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
            state_dir=Path(env.get("FHIR_RESIST_STATE_DIR") or server.outbox.parent),
            page_ttl=float(env.get("FHIR_RESIST_PAGE_TTL", 24 * 3600.0)),
            pages_max=int(env.get("FHIR_RESIST_PAGES_MAX", 10_000)),
            smart_launch_url=env.get("FHIR_RESIST_SMART_LAUNCH_URL") or None,
        )


def check(settings: ServiceSettings) -> None:
    """An ``InputError`` naming the setting the service cannot run with."""
    url = settings.public_url
    if settings.auth == "jwt" and not url:
        raise InputError(
            "required with FHIR_RESIST_CDS_AUTH=jwt: the service's external base URL as CDS clients "
            "call it (e.g. https://cds.example.org), which every token's aud must name",
            where="FHIR_RESIST_PUBLIC_URL",
        )
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise InputError(
                f"{url!r} is not an http(s) base URL without query or fragment",
                where="FHIR_RESIST_PUBLIC_URL",
            )
    _check_pages(settings)


def _check_pages(settings: ServiceSettings) -> None:
    """The patient pages' settings: a positive lifetime and count, and a SMART launch URL only
    beside the public URL the SMART app reads the page from."""
    if not (settings.page_ttl > 0 and math.isfinite(settings.page_ttl)):
        raise InputError("must be a number of seconds above 0", where="FHIR_RESIST_PAGE_TTL")
    if settings.pages_max < 1:
        raise InputError("must be 1 or more", where="FHIR_RESIST_PAGES_MAX")
    launch = settings.smart_launch_url
    if launch is None:
        return
    parts = urlsplit(launch)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise InputError(
            f"{launch!r} is not an http(s) URL without fragment", where="FHIR_RESIST_SMART_LAUNCH_URL"
        )
    if not settings.public_url:
        raise InputError(
            "needs FHIR_RESIST_PUBLIC_URL: the SMART app reads the patient page from the service",
            where="FHIR_RESIST_SMART_LAUNCH_URL",
        )


def _auth_mode(value: str) -> AuthMode:
    if value not in get_args(AuthMode):
        raise ValueError(f"FHIR_RESIST_CDS_AUTH must be jwt or off, not {value!r}")
    return cast(AuthMode, value)
