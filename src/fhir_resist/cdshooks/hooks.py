"""One hook call, without HTTP: the request checked, the patient's data gathered, assessed, carded.

The parts: ``hook_services`` (the services and their prefetch templates), ``hook_request``
(the checked request), ``prefetch`` (prefetch or fetch), ``assessment_cache`` and ``cards``.
Every refusal is an ``HttpError`` with the status the service answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir_resist.catalogue import Catalogue
from fhir_resist.cdshooks.assessment_cache import AssessmentCache, Cached, CacheKey
from fhir_resist.cdshooks.cards import cards_for
from fhir_resist.cdshooks.hook_request import HookRequest, parse_request
from fhir_resist.cdshooks.hook_services import HookService
from fhir_resist.cdshooks.prefetch import ClientFactory, default_client, gather_with_source, unpack
from fhir_resist.domain import PatientContext
from fhir_resist.engine.assess import assess
from fhir_resist.engine.model import Assessment
from fhir_resist.fhir.read import read_context
from fhir_resist.page.build import build_page
from fhir_resist.page.json_form import page_json

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HookResult:
    cards: list[JSON]
    issues: int
    cached: bool = False
    page: JSON | None = None  # the patient page's model (page_json), when asked for


def cached(
    service: HookService,
    raw: bytes,
    catalogue: Catalogue,
    cache: AssessmentCache,
    when: datetime,
    public_url: str | None = None,
) -> tuple[HookResult | None, CacheKey | None]:
    """The cards of a call answered from the cache, read from its raw body without parsing it
    (None on a miss), and its key (None when it has none). ``public_url``: as ``cards_for``."""
    key = cache.key(raw, service.id, catalogue.version, when.date())
    found = cache.get(key, catalogue) if key is not None else None
    if key is None or found is None:
        return None, key
    cards = cards_for(
        found.assessment,
        hook=service.hook,
        hook_instance=key.hook_instance,
        ordering=list(found.ordering),
        public_url=public_url,
    )
    return HookResult(cards, len(found.assessment.issues), cached=True, page=found.page), key


def call(
    service: HookService,
    body: Any,
    catalogue: Catalogue,
    *,
    client_factory: ClientFactory = default_client,
    at: datetime | None = None,
    raw: bytes | None = None,
    cache: AssessmentCache | None = None,
    key: CacheKey | None = None,
    public_url: str | None = None,
    page: bool = False,
) -> HookResult:
    """The cards for one call. With ``raw`` (the body as sent) and a ``cache``, a call whose data
    all came as prefetch is assessed once per body and day (``key``: the raw body's, when
    ``cached`` already missed with it). ``public_url``: as ``cards_for``. With ``page``, the
    patient page's model too (kept with the cached assessment)."""
    request = parse_request(body, service)
    when = at or datetime.now(UTC)
    if cache is not None and raw is not None and key is None:
        answered, key = cached(service, raw, catalogue, cache, when, public_url)
        if answered is not None:
            return answered
    assessment, context, fetched = _assessed(service, request, catalogue, when, client_factory, whole=page)
    model = page_json(build_page(assessment, context)) if page else None
    ordering = _ordering(service, request)
    if cache is not None and key is not None and not fetched and key.names(request):
        cache.put(key, Cached(assessment, tuple(ordering), catalogue, model))
    cards = cards_for(
        assessment,
        hook=service.hook,
        hook_instance=request.hookInstance,
        ordering=ordering,
        public_url=public_url,
    )
    return HookResult(cards, len(assessment.issues), page=model)


def _assessed(
    service: HookService,
    request: HookRequest,
    catalogue: Catalogue,
    when: datetime,
    client_factory: ClientFactory,
    *,
    whole: bool,
) -> tuple[Assessment, PatientContext, bool]:
    """The assessment of the patient's data and the draft orders, what it was made from, and
    whether anything was fetched.

    Cards say only what the catalogue can say, so unless the patient page is wanted (``whole``:
    it draws every variant) a simple variant in a gene the catalogue names nowhere is read no
    further than its gene (``Catalogue.names_gene``): on a 500-gene panel most of them. The
    cards are the same either way (tests/cdshooks/test_reading_scope.py)."""
    gathered = gather_with_source(request, client_factory)
    resources = gathered.resources
    if service.hook != "patient-view":
        resources.extend(unpack(_drafts(request)))
    context = read_context(
        resources,
        patient=request.context["patientId"],
        rules=catalogue.reading,
        wanted=None if whole else catalogue.names_gene,
    )
    return assess(context, catalogue, when), context, gathered.fetched


def _drafts(request: HookRequest) -> JSON:
    drafts: JSON = request.context.get("draftOrders") or {}
    return drafts


def _ordering(service: HookService, request: HookRequest) -> list[str]:
    """The references of the orders the cards speak about: the selections, or every draft."""
    if service.hook == "patient-view":
        return []
    if service.hook == "order-select":
        return list(request.context["selections"])
    return [
        f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}"
        for e in _drafts(request).get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
