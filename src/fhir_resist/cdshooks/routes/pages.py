"""``GET /pages/{id}``: the patient page a card links to, as one self-contained HTML file.

No authentication: the page's random, expiring id is the capability (a clinician's browser
follows the card's link without a CDS client's JWT). Unknown, expired and malformed ids get the
same 404; every answer carries ``no-store``, ``no-referrer``, the page's Content-Security-Policy
and ``nosniff``. The page is drawn within the service's deadline (503 past it).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from fhir_resist.cdshooks.pages import HEADERS, ROUTE, render
from fhir_resist.cdshooks.service import Current

router = APIRouter()
NOT_FOUND = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Page not found</title></head>'
    "<body><p>This patient page is unknown or has expired. Open the patient's chart again for a new "
    "one.</p></body></html>"
)


@router.get(ROUTE + "/{page_id}", summary="A patient page a card links to", response_class=HTMLResponse)
async def page(page_id: str, service: Current) -> HTMLResponse:
    store = service.pages
    found = await asyncio.to_thread(store.get, page_id) if store is not None else None
    if found is None:
        return HTMLResponse(NOT_FOUND, status_code=404, headers=HEADERS)
    try:
        html = await service.within_deadline(render(found))
    except TimeoutError:
        return HTMLResponse("The page is being drawn; load it again.", status_code=503, headers=HEADERS)
    return HTMLResponse(html, headers=HEADERS)
