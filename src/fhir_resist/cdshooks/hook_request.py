"""A hook call's request body (CDS Hooks 2.0), checked: a 400 naming the element, or the request.

``fhirServer`` must be a well-formed http(s) base URL (``fhir_servers.problem``) and
``fhirAuthorization.access_token`` a token a bearer header can carry (RFC 6750); either refusal
names the element and never repeats the token.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fhir_resist.cdshooks.fhir_servers import problem
from fhir_resist.cdshooks.hook_services import HookService
from fhir_resist.errors import HttpError, InputError
from fhir_resist.fhir.addresses import bearer_token, is_fhir_id


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class FhirAuthorization(_Model):
    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer", "bearer"]
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(_Model):
    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @property
    def token(self) -> str | None:
        """The access token for fhirServer, if one was sent."""
        return self.fhirAuthorization.access_token if self.fhirAuthorization else None


def parse_request(body: Any, service: HookService) -> HookRequest:
    """A checked hook request, or a 400 naming the element."""
    if not isinstance(body, dict):
        raise HttpError(400, "the request body is not a JSON object")
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise HttpError(400, f"{where}: {first['msg']}", expression=where) from None
    if request.hook != service.hook:
        raise HttpError(
            400, f"hook: service {service.id} answers {service.hook}, not {request.hook}", expression="hook"
        )
    _check_server(request)
    _check_context(request.context, service)
    return request


def _check_server(request: HookRequest) -> None:
    if request.fhirAuthorization is not None and not request.fhirServer:
        raise HttpError(400, "fhirServer: required when fhirAuthorization is sent", expression="fhirServer")
    wrong = problem(request.fhirServer) if request.fhirServer else None
    if wrong:
        raise HttpError(400, f"fhirServer: {wrong}", expression="fhirServer")
    if request.token is not None:
        try:
            bearer_token(request.token)
        except InputError:
            raise HttpError(
                400,
                "fhirAuthorization.access_token: has characters a bearer token cannot have (RFC 6750)",
                expression="fhirAuthorization.access_token",
            ) from None


def _check_context(context: dict[str, Any], service: HookService) -> None:
    patient = context.get("patientId")
    if not isinstance(patient, str) or not is_fhir_id(patient):
        raise HttpError(
            400,
            "context.patientId: a bare FHIR patient id is required (letters, digits, '-', '.'; up to 64)",
            expression="context.patientId",
        )
    if service.hook == "patient-view":
        return
    drafts = context.get("draftOrders")
    if not isinstance(drafts, dict) or drafts.get("resourceType") != "Bundle":
        raise HttpError(400, "context.draftOrders: a Bundle is required", expression="context.draftOrders")
    if service.hook == "order-select":
        selections = context.get("selections")
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise HttpError(
                400, "context.selections: a list of references is required", expression="context.selections"
            )
