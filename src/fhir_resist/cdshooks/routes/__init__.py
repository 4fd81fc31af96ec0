"""The service's HTTP routes, one router per concern, in the order the app includes them."""

from __future__ import annotations

from fastapi import APIRouter

from fhir_resist.cdshooks.routes import catalogue, discovery, feedback, hooks, pages, reports, status

ROUTERS: tuple[APIRouter, ...] = (
    status.router,
    discovery.router,
    hooks.router,
    feedback.router,
    reports.router,
    catalogue.router,
    pages.router,
)
