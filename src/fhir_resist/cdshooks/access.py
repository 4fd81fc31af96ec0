"""Who may call: a trusted CDS client on the CDS Hooks routes, the report poster on ``/reports``.

A CDS client proves itself with its JWT (``auth.Verifier``, audience the URL called); the
report poster with the shared bearer token. Either refusal is ``Unauthorized``, which the
service answers 401 without the reason (that goes to the log).
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Request

from fhir_resist.cdshooks.auth import Caller
from fhir_resist.cdshooks.service import Service
from fhir_resist.errors import Unauthorized

log = logging.getLogger("fhir_resist.service")


def authorise_cds_client(service: Service, request: Request) -> Caller | None:
    """The CDS client calling (None: authentication is off)."""
    if service.settings.auth == "off":
        return None
    caller = service.verifier.verify(request.headers.get("Authorization"), _audience(service, request))
    log.info("call on %s from %s", request.url.path, caller.issuer)
    return caller


def authorise_report_poster(service: Service, request: Request) -> None:
    if service.settings.auth == "off":
        return
    token = service.settings.reports_token
    if not token:
        raise Unauthorized("no report token is configured (FHIR_RESIST_REPORTS_TOKEN)")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 7235)
        raise Unauthorized("no bearer token")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("not the report token")


def _audience(service: Service, request: Request) -> str:
    """The URL called, as the CDS client names it in ``aud`` (behind a proxy: the public URL)."""
    base = service.settings.public_url or str(request.base_url).rstrip("/")
    return base + request.url.path
