"""``GET /catalogue/`` and ``GET /catalogue/rules/<id>.html``: the catalogue site (``catalogue_pages``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from fhir_resist.cdshooks.catalogue_pages import HEADERS
from fhir_resist.cdshooks.service import Current
from fhir_resist.errors import HttpError

router = APIRouter()


@router.get("/catalogue", include_in_schema=False)
def catalogue_root() -> RedirectResponse:
    # relative, so that it holds behind a proxy that serves the service under a path prefix
    return RedirectResponse("catalogue/", status_code=308)


@router.get("/catalogue/{path:path}", summary="The resistance catalogue as browsable pages")
def catalogue_page(path: str, service: Current) -> Response:
    body = service.site.page(path)
    if body is None:
        raise HttpError(404, f"no catalogue page {path!r}")
    return Response(body, media_type="text/html; charset=utf-8", headers=HEADERS)
