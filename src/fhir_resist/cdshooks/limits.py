"""The service's limits on what one client may hold, from ``FHIR_RESIST_*`` environment variables.

Limits before authentication, at the HTTP server (``server.py``): the bytes and seconds of a
request head, the connections served at once, how long an idle keep-alive connection stays.
Limits after it: hook calls fetching from a FHIR server at once per caller (``fetches.py``),
patients per posted report and posted reports evaluated at once (``routes/reports.py``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from fhir_resist.errors import InputError

_COUNTS = (
    "max_head",
    "max_connections",
    "keep_alive",
    "caller_fetches",
    "report_patients",
    "reports_at_once",
)


@dataclass(frozen=True, slots=True)
class Limits:
    max_head: int = 64 * 1024  # bytes of a request head (request line and headers); more: 431
    head_timeout: float = 10.0  # seconds for a request head to arrive once begun; slower: closed
    max_connections: int = 512  # connections (and requests) served at once; beyond: 503
    keep_alive: int = 5  # seconds an idle keep-alive connection stays open
    caller_fetches: int = 4  # hook calls fetching from the FHIR server at once, per caller; more: 429
    report_patients: int = 20  # patients one posted report may name; more: 413
    reports_at_once: int = 2  # posted reports evaluated at once (202s included); more: 429

    def __post_init__(self) -> None:
        counts = (
            "max_head",
            "max_connections",
            "keep_alive",
            "caller_fetches",
            "report_patients",
            "reports_at_once",
        )
        for name in counts:
            if getattr(self, name) < 1:
                raise InputError(f"must be 1 or more, not {getattr(self, name)}", where=name)
        if not math.isfinite(self.head_timeout) or self.head_timeout <= 0:
            raise InputError(
                f"must be a positive finite number, not {self.head_timeout}", where="head_timeout"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if env is None else env
        default = cls()
        return cls(
            max_head=_count(env, "FHIR_RESIST_MAX_HEAD", default.max_head),
            head_timeout=_seconds(env, "FHIR_RESIST_HEAD_TIMEOUT", default.head_timeout),
            max_connections=_count(env, "FHIR_RESIST_MAX_CONNECTIONS", default.max_connections),
            keep_alive=_count(env, "FHIR_RESIST_KEEP_ALIVE", default.keep_alive),
            caller_fetches=_count(env, "FHIR_RESIST_CALLER_FETCHES", default.caller_fetches),
            report_patients=_count(env, "FHIR_RESIST_REPORT_PATIENTS", default.report_patients),
            reports_at_once=_count(env, "FHIR_RESIST_REPORTS_AT_ONCE", default.reports_at_once),
        )


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"must be a whole number of 1 or more, not {text!r}", where=name)
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"must be a number of seconds, not {text!r}", where=name) from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"must be a positive finite number of seconds, not {text!r}", where=name)
    return value
