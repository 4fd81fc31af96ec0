"""Who may call, and where their hook calls may fetch from.

A CDS client proves itself with its JWT (``auth.Verifier``; the audience is the URL called, as
the configured public URL names it, never as the request's ``Host`` or forwarded headers say);
the report poster with the shared bearer token. Either refusal is ``Unauthorized``, which the
service answers 401 without the reason (that goes to the log).

A hook call fetches only from a FHIR server its caller may name (``client_factory_for``): the
trusted client's own servers, or with authentication off the servers the configuration names
(any when it names none).
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Request

from fhir_resist.cdshooks.auth import Caller
from fhir_resist.cdshooks.prefetch import ClientFactory, allowed_only
from fhir_resist.cdshooks.service import Service
from fhir_resist.errors import Unauthorized

log = logging.getLogger("fhir_resist.service")


async def authorise_cds_client(service: Service, request: Request) -> Caller | None:
    """The trusted caller (None with authentication off), or ``Unauthorized``."""
    if service.settings.auth == "off":
        return None
    caller = await service.verifier.verify(request.headers.get("Authorization"), audience(service, request))
    log.info("call on %s from %s", request.url.path, caller.issuer)
    return caller


def client_factory_for(service: Service, caller: Caller | None) -> ClientFactory:
    """The service's client factory, refusing (412) a ``fhirServer`` the caller may not name."""
    if caller is None:
        return allowed_only(service.client_factory, service.settings.trust.servers_without_auth(), "")
    return allowed_only(service.client_factory, caller.fhir_servers, caller.issuer)


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


def audience(service: Service, request: Request) -> str:
    """The URL called, as the CDS client names it in ``aud``: the configured public URL and the
    path (the app refuses to start with authentication on and no public URL)."""
    if not service.settings.public_url:
        raise Unauthorized("no public URL is configured (FHIR_RESIST_PUBLIC_URL)")
    return service.settings.public_url + request.url.path
