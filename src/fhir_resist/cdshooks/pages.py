"""The patient page of a hook call: stored beside its cards, linked from each of them, rendered on
request, and its id kept out of every log line.

A hook call's evaluation gives the page's model (``page_json``: plain JSON, so it crosses from an
evaluator process as data); the service process stores it (``PageStore``) and adds the same link
to every card: ``absolute`` to ``<public URL>/pages/<id>``, or, with a SMART launch URL, a
``smart`` link to that app with the page's id and address in ``appContext``. Without a public URL
there is no page and no link (never a link to a host we do not serve); when the page cannot be
stored the cards go without links (logged and counted).

``GET /pages/{id}`` renders the page (matplotlib draws its timeline) in one thread of its own per
process, off the hook calls' threads; pages render one at a time, as matplotlib's settings are
process-wide.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fhir_resist.cdshooks.page_store import PageStore
from fhir_resist.cdshooks.settings import ServiceSettings

JSON = dict[str, Any]
log = logging.getLogger("fhir_resist.service")

LABEL = "Patient resistance page"
ROUTE = "/pages"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
}
_renderer: ThreadPoolExecutor | None = None


def page_links(settings: ServiceSettings, page_id: str) -> list[JSON]:
    """The card's links to the page (the service has a public URL when it stores pages)."""
    assert settings.public_url
    url = f"{settings.public_url}{ROUTE}/{page_id}"
    if settings.smart_launch_url:
        context = json.dumps({"pageId": page_id, "pageUrl": url}, separators=(",", ":"))
        return [{"label": LABEL, "url": settings.smart_launch_url, "type": "smart", "appContext": context}]
    return [{"label": LABEL, "url": url, "type": "absolute"}]


async def with_page(settings: ServiceSettings, store: PageStore, cards: list[JSON], page: JSON) -> list[JSON]:
    """The cards, each linking the page once it is stored (as they were when it cannot be)."""
    if not cards:
        return cards
    try:
        page_id = await asyncio.to_thread(store.put, page)
    except OSError as exc:
        log.error("a patient page could not be stored (%s); its cards go without links", exc.strerror)
        return cards
    links = page_links(settings, page_id)
    return [{**card, "links": links} for card in cards]


def render(page: JSON) -> Future[str]:
    """The page's HTML, drawn in the process's page thread."""
    global _renderer
    if _renderer is None:
        _renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fhir-resist-page")
    return _renderer.submit(_html, page)


def _html(page: JSON) -> str:
    from fhir_resist.page.html import render_html
    from fhir_resist.page.json_form import page_from_json

    return render_html(page_from_json(page))


_PAGE_PATH = re.compile(re.escape(ROUTE) + r"/[^\s?#\"]*")


class HidePageIds(logging.Filter):
    """Writes a page's path as ``/pages/...`` in a log record (uvicorn's access log names every
    path it answers): the id is the capability to read the page."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and ROUTE in a for a in record.args):
            record.args = tuple(_hidden(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and ROUTE in record.msg:
            record.msg = _hidden(record.msg)
        return True


def _hidden(text: str) -> str:
    return _PAGE_PATH.sub(f"{ROUTE}/...", text)


def hide_page_ids(logger_name: str = "uvicorn.access") -> None:
    """Installs ``HidePageIds`` on the logger (once)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, HidePageIds) for f in logger.filters):
        logger.addFilter(HidePageIds())
