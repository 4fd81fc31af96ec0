"""The page rendered as one self-contained HTML file (Jinja2, autoescaped; the figure inline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fhir_resist.page.figure import timeline_svg
from fhir_resist.page.model import Page

if TYPE_CHECKING:
    from jinja2 import Environment

_environment: Environment | None = None


def render_html(page: Page) -> str:
    """The page's HTML: styles inline, the timeline as inline SVG, no resource fetched when viewed."""
    from markupsafe import Markup

    figure = Markup(timeline_svg(page.timeline)) if not page.timeline.empty else Markup("")  # noqa: S704
    return _templates().get_template("page.html.j2").render(page=page, figure=figure)


def _templates() -> Environment:
    global _environment
    if _environment is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        _environment = Environment(
            loader=PackageLoader("fhir_resist.page", "templates"),
            autoescape=True,  # every value is escaped; the figure is Markup, drawn here
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _environment
