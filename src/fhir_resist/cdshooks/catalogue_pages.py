"""The catalogue site as the service serves it (``GET /catalogue/...``): rendered once, on the
first request for a page (so the service's start-up does not pay for it), then kept in memory.
Public knowledge, no patient data: no authentication, the service's HTTP limits."""

from __future__ import annotations

import threading

from fhir_resist.catalogue.index import Catalogue

# What a page may do once loaded: its inline style and script only; no fetch, frame or form.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=300",
}


class CataloguePages:
    """The pages of one catalogue's site, by path under ``/catalogue/`` (``""`` is the index)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._lock = threading.Lock()
        self._pages: dict[str, bytes] | None = None

    def page(self, path: str) -> bytes | None:
        """The page at ``path`` (None: the site has no such page)."""
        from fhir_resist.catalogue.site import INDEX

        return self._rendered().get(path or INDEX)

    def _rendered(self) -> dict[str, bytes]:
        with self._lock:
            if self._pages is None:
                from fhir_resist.catalogue.site import pages

                self._pages = pages(self._catalogue)
            return self._pages
