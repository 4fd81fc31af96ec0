"""The last few assessments of hook calls whose data all came in the request (prefetch)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from datetime import date

from fhir_resist.cdshooks.hook_request import HookRequest
from fhir_resist.engine.model import Assessment


class AssessmentCache:
    """The last few assessments of hook calls whose data all came in the request (prefetch).

    A chart opened again with the same data sends the same prefetch: the key is a hash of the
    request body without what changes per call (hookInstance, the access token) plus the date,
    so a hit can only be the same data on the same day. Calls that fetched anything from the
    FHIR server are never cached (the server's data is not in the key).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Assessment] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def key(self, raw: bytes, request: HookRequest, today: date) -> str | None:
        """The cache key, or None when the per-call fields cannot be cut out unambiguously.

        Exactly the ``"hookInstance": "..."`` member (and the ``"access_token"`` one) is cut out,
        each only when it occurs once: anything else in the body stays in the key, so two bodies
        share a key only if they differ in nothing but those values.
        """
        spans = [("hookInstance", request.hookInstance)]
        if request.fhirAuthorization is not None:
            spans.append(("access_token", request.fhirAuthorization.access_token))
        for name, value in spans:
            member = re.compile(rb'"' + name.encode() + rb'"\s*:\s*' + re.escape(json.dumps(value).encode()))
            found = member.findall(raw)
            if len(found) != 1 or raw.count(b'"' + name.encode() + b'"') != 1:
                return None
            raw = member.sub(b"", raw)
        return hashlib.sha256(raw + today.isoformat().encode()).hexdigest()

    def get(self, key: str) -> Assessment | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return found

    def put(self, key: str, assessment: Assessment) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = assessment
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
